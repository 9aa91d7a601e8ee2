"""d2l chapters 3-4 (linear regression, softmax regression) verbatim on zerograd and torch."""
import copy
import random

import pytest

from tests.d2l._harness import compare, copy_weights, fashion_loaders, libs, run_both

# torch warns when d2l calls float() on a loss that requires grad; the code is the book's
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def linreg_scratch(torch, nn, F, data):  # 3.2
    def synthetic_data(w, b, num_examples):
        """Generate y = Xw + b + noise."""
        X = torch.normal(0, 1, (num_examples, len(w)))
        y = torch.matmul(X, w) + b
        y += torch.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        # The examples are read at random, in no particular order
        random.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(
                indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    batch_size = 10
    for X, y in data_iter(batch_size, features, labels):
        first = X, y
        break
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        """The linear regression model."""
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        """Squared loss."""
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        """Minibatch stochastic gradient descent."""
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr = 0.03
    num_epochs = 3
    net = linreg
    loss = squared_loss
    losses = []
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)  # Minibatch loss in `X` and `y`
            # Compute gradient on `l` with respect to [`w`, `b`]
            l.sum().backward()
            sgd([w, b], lr, batch_size)  # Update parameters using their gradient
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            losses.append(f'epoch {epoch + 1}, loss {float(train_l.mean()):f}')
    return {"first": first, "losses": losses, "w": w, "b": b,
            "error w": true_w - w.reshape(true_w.shape), "error b": true_b - b}


def test_linreg_scratch():
    random.seed(0)
    z, t = run_both(linreg_scratch)
    compare(z, t, shapes_only=("first", "losses", "w", "b", "error w", "error b"))
    for r in (z, t):
        assert float(r["error w"].abs().max().detach()) < 0.01
        assert float(r["error b"].abs().detach()) < 0.01
        assert float(r["losses"][-1].split()[-1]) < 1e-3


def linreg_concise(torch, nn, F, data):  # 3.3
    def synthetic_data(w, b, num_examples):
        X = torch.normal(0, 1, (num_examples, len(w)))
        y = torch.matmul(X, w) + b
        y += torch.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)

    def load_array(data_arrays, batch_size, is_train=True):
        """Construct a PyTorch data iterator."""
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    batch_size = 10
    data_iter = load_array((features, labels), batch_size)
    first = next(iter(data_iter))
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    num_epochs = 3
    log = []
    for epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        log.append(f'epoch {epoch + 1}, loss {l:f}')
    w = net[0].weight.data
    b = net[0].bias.data
    return {"first": first, "log": log, "w": w, "b": b,
            "error w": true_w - w.reshape(true_w.shape), "error b": true_b - b,
            "len": len(data_iter), "requires_grad": (w.requires_grad, net[0].weight.requires_grad)}


def test_linreg_concise():
    z, t = run_both(linreg_concise)
    compare(z, t, shapes_only=("first", "log", "w", "b", "error w", "error b"))
    for r in (z, t):
        assert float(r["error w"].abs().max().detach()) < 0.01
        assert float(r["error b"].abs().detach()) < 0.01
        assert float(r["log"][-1].split()[-1]) < 1e-3


class Accumulator:
    """For accumulating sums over `n` variables."""
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def ch3_utils(torch):
    """d2l's accuracy / evaluate_accuracy / train_epoch_ch3 / train_ch3 (no Animator)."""
    def accuracy(y_hat, y):
        """Compute the number of correct predictions."""
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    def evaluate_accuracy(net, data_iter):
        """Compute the accuracy for a model on a dataset."""
        if isinstance(net, torch.nn.Module):
            net.eval()  # Set the model to evaluation mode
        metric = Accumulator(2)  # No. of correct predictions, no. of predictions
        with torch.no_grad():
            for X, y in data_iter:
                metric.add(accuracy(net(X), y), y.numel())
        return metric[0] / metric[1]

    def train_epoch_ch3(net, train_iter, loss, updater):
        """The training loop defined in Chapter 3."""
        # Set the model to training mode
        if isinstance(net, torch.nn.Module):
            net.train()
        # Sum of training loss, sum of training accuracy, no. of examples
        metric = Accumulator(3)
        for X, y in train_iter:
            # Compute gradients and update parameters
            y_hat = net(X)
            l = loss(y_hat, y)
            if isinstance(updater, torch.optim.Optimizer):
                # Using PyTorch in-built optimizer & loss criterion
                updater.zero_grad()
                l.mean().backward()
                updater.step()
            else:
                # Using custom built optimizer & loss criterion
                l.sum().backward()
                updater(X.shape[0])
            metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
        # Return training loss and training accuracy
        return metric[0] / metric[2], metric[1] / metric[2]

    def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
        """Train a model (defined in Chapter 3)."""
        history = []
        for epoch in range(num_epochs):
            train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
            test_acc = evaluate_accuracy(net, test_iter)
            history.append(train_metrics + (test_acc,))
        return history

    return accuracy, evaluate_accuracy, train_ch3


def softmax_scratch(torch, nn, F, data):  # 4.4 (3.6 in d2l 0.17)
    r = {}
    accuracy, evaluate_accuracy, train_ch3 = ch3_utils(torch)
    batch_size = 64
    train_iter, test_iter = fashion_loaders(torch, data, batch_size)
    num_inputs = 784
    num_outputs = 10
    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)
    X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    r["keepdim"] = X.sum(0, keepdim=True), X.sum(1, keepdim=True)

    def softmax(X):
        X_exp = torch.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition  # The broadcasting mechanism is applied here

    X = torch.normal(0, 1, (2, 5))
    X_prob = softmax(X)
    r["rows sum to 1"] = torch.allclose(X_prob.sum(1), torch.ones(2))

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    y = torch.tensor([0, 2])
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    r["pick"] = y_hat[[0, 1], y]

    def cross_entropy(y_hat, y):
        return - torch.log(y_hat[range(len(y_hat)), y])

    r["ce"] = cross_entropy(y_hat, y)
    r["acc"] = accuracy(y_hat, y) / len(y)
    r["untrained"] = evaluate_accuracy(net, test_iter)
    lr = 0.1

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    def updater(batch_size):
        return sgd([W, b], lr, batch_size)

    num_epochs = 4
    r["history"] = train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)

    def get_fashion_mnist_labels(labels):
        """Return text labels for the Fashion-MNIST dataset."""
        text_labels = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                       'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']
        return [text_labels[int(i)] for i in labels]

    for X, y in test_iter:
        break
    trues = get_fashion_mnist_labels(y)
    preds = get_fashion_mnist_labels(net(X).argmax(axis=1))
    titles = [true + '\n' + pred for true, pred in zip(trues, preds)]
    r["titles"] = len(titles), titles[0].split('\n')[0]
    return r


def _check_learned(history, min_acc):
    first, last = history[0], history[-1]
    assert last[0] < first[0], f"training loss did not fall: {history}"
    assert last[1] > min_acc and last[2] > min_acc * 0.8, history


def test_softmax_scratch():
    z, t = run_both(softmax_scratch)
    compare(z, t, shapes_only=("untrained", "history"))
    for r in (z, t):
        _check_learned(r["history"], 0.5)


def softmax_concise(torch, nn, F, data):  # 4.5 (3.7 in d2l 0.17)
    accuracy, evaluate_accuracy, train_ch3 = ch3_utils(torch)
    batch_size = 64
    train_iter, test_iter = fashion_loaders(torch, data, batch_size)
    # PyTorch does not implicitly reshape the inputs. Thus we define the flatten
    # layer to reshape the inputs before the linear layer in our network
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    num_epochs = 4
    return {"history": train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer),
            "training": net.training}


def test_softmax_concise():
    z, t = run_both(softmax_concise)
    compare(z, t, shapes_only=("history",))
    for r in (z, t):
        _check_learned(r["history"], 0.5)


def test_softmax_concise_step_matches_torch():
    """One SGD step of the concise model from the same weights: same loss, same update."""
    results, start = [], None
    for name in ("zerograd", "torch"):
        torch, nn, F, data = libs(name)
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        if start is None:
            start = copy.deepcopy(net)
        else:
            copy_weights(start, net)
        loss = nn.CrossEntropyLoss(reduction='none')
        trainer = torch.optim.SGD(net.parameters(), lr=0.1)
        X, y = next(iter(fashion_loaders(torch, data, 32)[1]))
        l = loss(net(X), y)
        trainer.zero_grad()
        l.mean().backward()
        trainer.step()
        results.append({"loss": l, "weight": net[1].weight, "bias": net[1].bias})
    compare(*results, rtol=1e-4, atol=1e-6)
