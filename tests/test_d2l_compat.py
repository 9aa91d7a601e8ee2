"""d2l ("Dive into Deep Learning", PyTorch edition) code runs unchanged on zerograd: chapter 2.

Each excerpt below is the book's code verbatim, run once with ``torch`` bound to zerograd and
once bound to PyTorch; results that do not depend on random numbers must agree. Chapters 3-8
live in ``tests/d2l/``; ``tests/d2l/_harness.py`` explains the mechanism.
"""
import os

import pandas as pd

from tests.d2l._harness import compare, libs, run_both


def data_manipulation(torch, nn, F, data):  # 2.1
    r = {}
    x = torch.arange(12, dtype=torch.float32)
    r["x"], r["numel"], r["shape"] = x, x.numel(), x.shape
    X = x.reshape(3, 4)
    r["X"], r["X-1"], r["Xrows"] = X, x.reshape(-1, 4), x.reshape(3, -1)
    r["zeros"], r["ones"] = torch.zeros((2, 3, 4)), torch.ones((2, 3, 4))
    r["randn"] = torch.randn(3, 4)
    r["list"] = torch.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    r["last"], r["mid"] = X[-1], X[1:3]
    X[1, 2] = 17
    r["X17"] = X.clone()
    X[:2, :] = 12
    r["X12"] = X
    r["exp"] = torch.exp(x)
    x = torch.tensor([1.0, 2, 4, 8])
    y = torch.tensor([2, 2, 2, 2])
    r["ops"] = x + y, x - y, x * y, x / y, x ** y
    X = torch.arange(12, dtype=torch.float32).reshape((3, 4))
    Y = torch.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    r["cat"] = torch.cat((X, Y), dim=0), torch.cat((X, Y), dim=1)
    r["eq"] = X == Y
    r["sum"] = X.sum()
    a = torch.arange(3).reshape((3, 1))
    b = torch.arange(2).reshape((1, 2))
    r["broadcast"] = a + b
    before = id(Y)
    Y = Y + X
    r["new id"] = id(Y) == before
    Z = torch.zeros_like(Y)
    id_z = id(Z)
    Z[:] = X + Y
    r["Z"], r["same Z"] = Z, id(Z) == id_z
    before = id(X)
    X += Y
    r["same X"] = id(X) == before
    A = X.numpy()
    B = torch.from_numpy(A)
    r["types"] = type(A).__name__, type(B).__name__
    r["B"] = B
    a = torch.tensor([3.5])
    r["scalars"] = a, a.item(), float(a), int(a)
    return r


def test_data_manipulation():
    z, t = run_both(data_manipulation)
    compare(z, t, shapes_only=("randn",))


def test_from_numpy_shares_memory():
    torch = libs("zerograd")[0]
    X = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    A = X.numpy()
    B = torch.from_numpy(A)
    A[0, 0] = 100
    assert float(X[0, 0]) == 100 and float(B[0, 0]) == 100


def data_preprocessing(torch, nn, F, data):  # 2.2
    os.makedirs(os.path.join('..', 'data'), exist_ok=True)
    data_file = os.path.join('..', 'data', 'house_tiny.csv')
    with open(data_file, 'w') as f:
        f.write('''NumRooms,RoofType,Price
NA,NA,127500
2,NA,106000
4,Slate,178100
NA,NA,140000''')
    data = pd.read_csv(data_file)
    inputs, targets = data.iloc[:, 0:2], data.iloc[:, 2]
    inputs = pd.get_dummies(inputs, dummy_na=True)
    inputs = inputs.fillna(inputs.mean())
    X = torch.tensor(inputs.to_numpy(dtype=float))
    y = torch.tensor(targets.to_numpy(dtype=float))
    return {"X": X, "y": y}


def test_data_preprocessing(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    z, t = run_both(data_preprocessing)
    compare(z, t)
    assert z["X"].shape == (4, 3)


def linear_algebra(torch, nn, F, data):  # 2.3
    r = {}
    x = torch.tensor(3.0)
    y = torch.tensor(2.0)
    r["scalars"] = x + y, x * y, x / y, x**y
    x = torch.arange(3)
    r["vector"] = x[2], len(x), x.shape
    A = torch.arange(6).reshape(3, 2)
    r["T"] = A.T
    A = torch.tensor([[1, 2, 3], [2, 0, 4], [3, 4, 5]])
    r["sym"] = A == A.T
    r["3d"] = torch.arange(24).reshape(2, 3, 4)
    A = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    B = A.clone()  # Assign a copy of A to B by allocating new memory
    r["A+B"], r["A*B"] = A + B, A * B
    a = 2
    X = torch.arange(24).reshape(2, 3, 4)
    r["aX"] = a + X, (a * X).shape
    x = torch.arange(3, dtype=torch.float32)
    r["xsum"] = x, x.sum()
    r["Asum"] = A.shape, A.sum()
    r["axis0"] = A.shape, A.sum(axis=0).shape
    r["axis1"] = A.shape, A.sum(axis=1).shape
    r["axes"] = A.sum(axis=[0, 1]) == A.sum()  # Same as A.sum()
    r["mean"] = A.mean(), A.sum() / A.numel()
    r["mean0"] = A.mean(axis=0), A.sum(axis=0) / A.shape[0]
    sum_A = A.sum(axis=1, keepdims=True)
    r["keepdims"] = sum_A, sum_A.shape, A / sum_A
    r["cumsum"] = A.cumsum(axis=0)
    y = torch.ones(3, dtype = torch.float32)
    r["dot"] = x, y, torch.dot(x, y), torch.sum(x * y)
    r["mv"] = A.shape, x.shape, torch.mv(A, x), A@x
    B = torch.ones(3, 4)
    r["mm"] = torch.mm(A, B), A@B
    u = torch.tensor([3.0, -4.0])
    r["norms"] = torch.norm(u), torch.abs(u).sum(), torch.norm(torch.ones((4, 9)))
    return r


def test_linear_algebra():
    z, t = run_both(linear_algebra)
    compare(z, t)


def autograd(torch, nn, F, data):  # 2.5
    r = {}
    x = torch.arange(4.0)
    x.requires_grad_(True)  # Better create `x = torch.arange(4.0, requires_grad=True)`
    r["grad0"] = x.grad is None
    y = 2 * torch.dot(x, x)
    r["y"] = y
    y.backward()
    r["grad"], r["check"] = x.grad.clone(), x.grad == 4 * x
    x.grad.zero_()  # Reset the gradient
    y = x.sum()
    y.backward()
    r["grad sum"] = x.grad.clone()
    x.grad.zero_()
    y = x * x
    y.backward(gradient=torch.ones(len(y)))  # Faster: y.sum().backward()
    r["grad nonscalar"] = x.grad.clone()
    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    r["detach"] = x.grad == u
    x.grad.zero_()
    y.sum().backward()
    r["after detach"] = x.grad == 2 * x

    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c

    # Seeded: the book's exact `==` is False in PyTorch too for some negative a (100 * b
    # rounds), so an unseeded draw made this comparison depend on test order.
    torch.manual_seed(0)
    a = torch.randn(size=(), requires_grad=True)
    d = f(a)
    d.backward()
    r["control flow"] = a.grad == d / a
    for value in (0.37, -0.37):
        a = torch.tensor(value, requires_grad=True)
        d = f(a)
        d.backward()
        r[f"f({value})"] = d, a.grad
    return r


def test_autograd():
    z, t = run_both(autograd)
    compare(z, t)
