"""d2l chapter 7 (convolutional networks) verbatim on zerograd and torch."""
import copy

import numpy as np
import pytest

from tests.d2l._harness import compare, copy_weights, libs, run_both

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def make_corr2d(torch):
    def corr2d(X, K):
        """Compute 2D cross-correlation."""
        h, w = K.shape
        Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
        return Y
    return corr2d


def convolutions(torch, nn, F, data):  # 7.2
    r = {}
    corr2d = make_corr2d(torch)
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    r["corr2d"] = corr2d(X, K)

    class Conv2D(nn.Module):
        def __init__(self, kernel_size):
            super().__init__()
            self.weight = nn.Parameter(torch.rand(kernel_size))
            self.bias = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return corr2d(x, self.weight) + self.bias

    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    r["X"] = X
    K = torch.tensor([[1.0, -1.0]])
    Y = corr2d(X, K)
    r["edges"], r["edges T"] = Y, corr2d(X.t(), K)
    layer = Conv2D((1, 2))
    r["custom"] = layer(X).shape, [p.shape for p in layer.parameters()]
    # Construct a two-dimensional convolutional layer with 1 output channel and a
    # kernel of shape (1, 2). For the sake of simplicity, we ignore the bias here
    for conv2d in (nn.LazyConv2d(1, kernel_size=(1, 2), bias=False),
                   nn.Conv2d(1,1, kernel_size=(1, 2), bias=False)):
        # The two-dimensional convolutional layer uses four-dimensional input and
        # output in the format of (example, channel, height, width), where the batch
        # size (number of examples in the batch) and the number of channels are both 1
        X = X.reshape((1, 1, 6, 8))
        Y = Y.reshape((1, 1, 6, 7))
        lr = 3e-2  # Learning rate
        for i in range(10):
            Y_hat = conv2d(X)
            l = (Y_hat - Y) ** 2
            conv2d.zero_grad()
            l.sum().backward()
            # Update the kernel
            conv2d.weight.data[:] -= lr * conv2d.weight.grad
        r.setdefault("learned", []).append(
            (conv2d.weight.data.reshape((1, 2)), float(l.sum())))
    return r


def test_convolutions():
    z, t = run_both(convolutions)
    compare(z, t, shapes_only=("learned",))
    for r in (z, t):
        for kernel, loss in r["learned"]:
            assert loss < 1.0
            assert abs(float(kernel[0, 0]) - 1) < 0.2 and abs(float(kernel[0, 1]) + 1) < 0.2


def padding_and_stride(torch, nn, F, data):  # 7.3
    # We define a helper function to calculate convolutions. It initializes the
    # convolutional layer weights and performs corresponding dimensionality
    # elevations and reductions on the input and output
    def comp_conv2d(conv2d, X):
        # (1, 1) indicates that batch size and the number of channels are both 1
        X = X.reshape((1, 1) + X.shape)
        Y = conv2d(X)
        # Strip the first two dimensions: examples and channels
        return Y.reshape(Y.shape[2:])

    # 1 row and column is padded on either side, so a total of 2 rows or columns
    # are added
    X = torch.rand(size=(8, 8))
    return {
        "pad": comp_conv2d(nn.LazyConv2d(1, kernel_size=3, padding=1), X).shape,
        "pad old": comp_conv2d(nn.Conv2d(1, 1, kernel_size=3, padding=1), X).shape,
        "pad hw": comp_conv2d(nn.LazyConv2d(1, kernel_size=(5, 3), padding=(2, 1)), X).shape,
        "stride": comp_conv2d(nn.LazyConv2d(1, kernel_size=3, padding=1, stride=2), X).shape,
        "both": comp_conv2d(nn.LazyConv2d(1, kernel_size=(3, 5), padding=(0, 1),
                                          stride=(3, 4)), X).shape,
    }


def test_padding_and_stride():
    z, t = run_both(padding_and_stride)
    compare(z, t)


def channels(torch, nn, F, data):  # 7.4
    r = {}
    corr2d = make_corr2d(torch)

    def corr2d_multi_in(X, K):
        # Iterate through the 0th dimension (channel) of K first, then add them up
        return sum(corr2d(x, k) for x, k in zip(X, K))

    X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                   [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    r["multi in"] = corr2d_multi_in(X, K)

    def corr2d_multi_in_out(X, K):
        # Iterate through the 0th dimension of K, and each time, perform
        # cross-correlation operations with input X. All of the results are
        # stacked together
        return torch.stack([corr2d_multi_in(X, k) for k in K], 0)

    K = torch.stack((K, K + 1, K + 2), 0)
    r["K"] = K.shape
    r["multi out"] = corr2d_multi_in_out(X, K)

    def corr2d_multi_in_out_1x1(X, K):
        c_i, h, w = X.shape
        c_o = K.shape[0]
        X = X.reshape((c_i, h * w))
        K = K.reshape((c_o, c_i))
        # Matrix multiplication in the fully connected layer
        Y = torch.matmul(K, X)
        return Y.reshape((c_o, h, w))

    X = torch.normal(0, 1, (3, 3, 3))
    K = torch.normal(0, 1, (2, 3, 1, 1))
    Y1 = corr2d_multi_in_out_1x1(X, K)
    Y2 = corr2d_multi_in_out(X, K)
    r["1x1"] = float(torch.abs(Y1 - Y2).max()) < 1e-5
    return r


def test_channels():
    z, t = run_both(channels)
    compare(z, t)


def pooling(torch, nn, F, data):  # 7.5
    r = {}

    def pool2d(X, pool_size, mode='max'):
        p_h, p_w = pool_size
        Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                if mode == 'max':
                    Y[i, j] = X[i: i + p_h, j: j + p_w].max()
                elif mode == 'avg':
                    Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
        return Y

    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    r["max"], r["avg"] = pool2d(X, (2, 2)), pool2d(X, (2, 2), 'avg')
    X = torch.arange(16, dtype=torch.float32).reshape((1, 1, 4, 4))
    r["X"] = X
    pool2d = nn.MaxPool2d(3)
    # Pooling has no model parameters, hence it needs no initialization
    r["3"] = pool2d(X)
    pool2d = nn.MaxPool2d(3, padding=1, stride=2)
    r["pad stride"] = pool2d(X)
    pool2d = nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))
    r["rect"] = pool2d(X)
    X = torch.cat((X, X + 1), 1)
    r["channels"] = X
    pool2d = nn.MaxPool2d(3, padding=1, stride=2)
    r["multi"] = pool2d(X)
    return r


def test_pooling():
    z, t = run_both(pooling)
    compare(z, t)


def init_cnn(nn):
    def init_cnn(module):  # @save
        """Initialize weights for CNNs."""
        if type(module) == nn.Linear or type(module) == nn.Conv2d:
            nn.init.xavier_uniform_(module.weight)
    return init_cnn


def lenet(torch, nn, F, data):  # 7.6
    r = {}
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))
    X = torch.rand(size=(1, 1, 28, 28), dtype=torch.float32)
    lines = []
    for layer in net:
        X = layer(X)
        lines.append(f"{layer.__class__.__name__} output shape: \t{X.shape}")
    r["lines"] = [line.replace("zerograd.", "torch.") for line in lines]
    net.apply(init_cnn(nn))
    r["repr"] = repr(net)
    return r


def test_lenet():
    z, t = run_both(lenet)
    compare(z, t)
    assert z["lines"][0] == "Conv2d output shape: \ttorch.Size([1, 6, 28, 28])"


def test_lenet_training_step_matches_torch():
    """d2l's train_ch6 inner step, from the same weights and batch, in both frameworks."""
    rng = np.random.default_rng(0)
    images = rng.random((8, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, 8)
    results, start = [], None
    for name in ("zerograd", "torch"):
        torch, nn, F, data = libs(name)
        net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.Sigmoid(),
            nn.Linear(84, 10))
        if start is None:
            net.apply(init_cnn(nn))
            start = copy.deepcopy(net)
        else:
            copy_weights(start, net)
        device = torch.device('cpu')
        net.to(device)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.9)
        loss = nn.CrossEntropyLoss()
        net.train()
        X, y = torch.tensor(images), torch.tensor(labels)
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        l = loss(y_hat, y)
        l.backward()
        grads = [p.grad.clone() for p in net.parameters()]
        optimizer.step()
        results.append({"loss": l, "grads": grads, "params": [p.data for p in net.parameters()]})
    compare(results[0], results[1], rtol=1e-4, atol=1e-5)
