"""d2l chapter 5 (multilayer perceptrons) verbatim on zerograd and torch."""
import math

import numpy as np
import pandas as pd
import pytest

from tests.d2l._harness import compare, fashion_loaders, run_both
from tests.d2l.test_ch3_ch4_linear import Accumulator, _check_learned, ch3_utils

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def mlp_scratch(torch, nn, F, data):  # 5.2
    accuracy, evaluate_accuracy, train_ch3 = ch3_utils(torch)
    batch_size = 64
    train_iter, test_iter = fashion_loaders(torch, data, batch_size)
    num_inputs, num_outputs, num_hiddens = 784, 10, 256
    W1 = nn.Parameter(torch.randn(
        num_inputs, num_hiddens, requires_grad=True) * 0.01)
    b1 = nn.Parameter(torch.zeros(num_hiddens, requires_grad=True))
    W2 = nn.Parameter(torch.randn(
        num_hiddens, num_outputs, requires_grad=True) * 0.01)
    b2 = nn.Parameter(torch.zeros(num_outputs, requires_grad=True))
    params = [W1, b1, W2, b2]

    def relu(X):
        a = torch.zeros_like(X)
        return torch.max(X, a)

    def net(X):
        X = X.reshape((-1, num_inputs))
        H = relu(X@W1 + b1)  # Here '@' stands for matrix multiplication
        return (H@W2 + b2)

    loss = nn.CrossEntropyLoss(reduction='none')
    num_epochs, lr = 4, 0.1
    updater = torch.optim.SGD(params, lr=lr)
    return {"relu": relu(torch.tensor([-1.0, 0.0, 2.0])),
            "leaf": (W1.is_leaf, W1.requires_grad, type(W1).__name__),
            "history": train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)}


def test_mlp_scratch():
    z, t = run_both(mlp_scratch)
    compare(z, t, shapes_only=("history",))
    for r in (z, t):
        _check_learned(r["history"], 0.5)


def mlp_concise_and_dropout(torch, nn, F, data):  # 5.2, 5.6
    r = {}
    accuracy, evaluate_accuracy, train_ch3 = ch3_utils(torch)

    def dropout_layer(X, dropout):
        assert 0 <= dropout <= 1
        # In this case, all elements are dropped out
        if dropout == 1:
            return torch.zeros_like(X)
        # In this case, all elements are kept
        if dropout == 0:
            return X
        mask = (torch.rand(X.shape) > dropout).float()
        return mask * X / (1.0 - dropout)

    X = torch.arange(16, dtype = torch.float32).reshape((2, 8))
    r["p0"], r["p1"] = dropout_layer(X, 0.), dropout_layer(X, 1.)
    half = dropout_layer(X, 0.5)
    r["p.5"] = bool(((half == 0) | (half == 2 * X)).all())
    num_inputs, num_outputs, num_hiddens1, num_hiddens2 = 784, 10, 256, 256
    dropout1, dropout2 = 0.2, 0.5

    class Net(nn.Module):
        def __init__(self, num_inputs, num_outputs, num_hiddens1, num_hiddens2,
                     is_training = True):
            super(Net, self).__init__()
            self.num_inputs = num_inputs
            self.training = is_training
            self.lin1 = nn.Linear(num_inputs, num_hiddens1)
            self.lin2 = nn.Linear(num_hiddens1, num_hiddens2)
            self.lin3 = nn.Linear(num_hiddens2, num_outputs)
            self.relu = nn.ReLU()

        def forward(self, X):
            H1 = self.relu(self.lin1(X.reshape((-1, self.num_inputs))))
            # Use dropout only when training the model
            if self.training == True:
                # Add a dropout layer after the first fully connected layer
                H1 = dropout_layer(H1, dropout1)
            H2 = self.relu(self.lin2(H1))
            if self.training == True:
                # Add a dropout layer after the second fully connected layer
                H2 = dropout_layer(H2, dropout2)
            out = self.lin3(H2)
            return out

    net = Net(num_inputs, num_outputs, num_hiddens1, num_hiddens2)
    num_epochs, lr, batch_size = 5, 0.5, 64
    loss = nn.CrossEntropyLoss(reduction='none')
    train_iter, test_iter = fashion_loaders(torch, data, batch_size)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    r["scratch"] = train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)

    net = nn.Sequential(nn.Flatten(),
            nn.Linear(784, 256),
            nn.ReLU(),
            # Add a dropout layer after the first fully connected layer
            nn.Dropout(dropout1),
            nn.Linear(256, 256),
            nn.ReLU(),
            # Add a dropout layer after the second fully connected layer
            nn.Dropout(dropout2),
            nn.Linear(256, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    r["concise"] = train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
    r["modes"] = net.training, net[3].training
    return r


def test_mlp_concise_and_dropout():
    z, t = run_both(mlp_concise_and_dropout)
    compare(z, t, shapes_only=("scratch", "concise"))
    for r in (z, t):
        _check_learned(r["scratch"], 0.5)
        _check_learned(r["concise"], 0.5)


def synthetic_data(torch, w, b, num_examples):
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def weight_decay(torch, nn, F, data):  # 3.7 (4.5 in d2l 0.17)
    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    def evaluate_loss(net, data_iter, loss):
        """Evaluate the loss of a model on the given dataset."""
        metric = Accumulator(2)  # Sum of losses, no. of examples
        for X, y in data_iter:
            out = net(X)
            y = y.reshape(out.shape)
            l = loss(out, y)
            metric.add(l.sum(), l.numel())
        return metric[0] / metric[1]

    n_train, n_test, num_inputs, batch_size = 20, 100, 200, 5
    true_w, true_b = torch.ones((num_inputs, 1)) * 0.01, 0.05
    train_data = synthetic_data(torch, true_w, true_b, n_train)
    train_iter = load_array(train_data, batch_size)
    test_data = synthetic_data(torch, true_w, true_b, n_test)
    test_iter = load_array(test_data, batch_size, is_train=False)

    def init_params():
        w = torch.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        return [w, b]

    def l2_penalty(w):
        return torch.sum(w.pow(2)) / 2

    def train(lambd):
        w, b = init_params()
        net, loss = lambda X: linreg(X, w, b), squared_loss
        num_epochs, lr = 30, 0.003
        for epoch in range(num_epochs):
            for X, y in train_iter:
                # The L2 norm penalty term has been added, and broadcasting
                # makes `l2_penalty(w)` a vector whose length is `batch_size`
                l = loss(net(X), y) + lambd * l2_penalty(w)
                l.sum().backward()
                sgd([w, b], lr, batch_size)
        return torch.norm(w).item(), evaluate_loss(net, test_iter, loss)

    def train_concise(wd):
        net = nn.Sequential(nn.Linear(num_inputs, 1))
        for param in net.parameters():
            param.data.normal_()
        loss = nn.MSELoss(reduction='none')
        num_epochs, lr = 30, 0.003
        # The bias parameter has not decayed
        trainer = torch.optim.SGD([
            {"params":net[0].weight,'weight_decay': wd},
            {"params":net[0].bias}], lr=lr)
        for epoch in range(num_epochs):
            for X, y in train_iter:
                trainer.zero_grad()
                l = loss(net(X), y)
                l.mean().backward()
                trainer.step()
        return net[0].weight.norm().item(), evaluate_loss(net, test_iter, loss)

    return {"scratch": (train(lambd=0), train(lambd=3)),
            "concise": (train_concise(0), train_concise(3))}


def test_weight_decay():
    z, t = run_both(weight_decay)
    compare(z, t, shapes_only=("scratch", "concise"))
    for r in (z, t):
        for plain, decayed in (r["scratch"], r["concise"]):
            assert decayed[0] < plain[0] / 2, r  # the penalty shrinks ||w||


def polynomial_fit(torch, nn, F, data):  # 3.6 (4.4 in d2l 0.17), numpy data as in the book
    max_degree = 20  # Maximum degree of the polynomial
    n_train, n_test = 100, 100  # Training and test dataset sizes
    true_w = np.zeros(max_degree)  # Allocate lots of empty space
    true_w[0:4] = np.array([5, 1.2, -3.4, 5.6])
    rng = np.random.default_rng(0)  # the book calls np.random.normal / np.random.shuffle
    features = rng.normal(size=(n_train + n_test, 1))
    rng.shuffle(features)
    poly_features = np.power(features, np.arange(max_degree).reshape(1, -1))
    for i in range(max_degree):
        poly_features[:, i] /= math.gamma(i + 1)  # `gamma(n)` = (n-1)!
    # Shape of `labels`: (`n_train` + `n_test`,)
    labels = np.dot(poly_features, true_w)
    labels += rng.normal(scale=0.1, size=labels.shape)
    # Convert from NumPy ndarrays to tensors
    true_w, features, poly_features, labels = [torch.tensor(x, dtype=
        torch.float32) for x in [true_w, features, poly_features, labels]]

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    def train(train_features, test_features, train_labels, test_labels, num_epochs=150):
        loss = nn.MSELoss(reduction='none')
        input_shape = train_features.shape[-1]
        # Switch off the bias since we already catered for it in the polynomial features
        net = nn.Sequential(nn.Linear(input_shape, 1, bias=False))
        batch_size = min(10, train_labels.shape[0])
        train_iter = load_array((train_features, train_labels.reshape(-1,1)), batch_size)
        trainer = torch.optim.SGD(net.parameters(), lr=0.01)
        for epoch in range(num_epochs):
            for X, y in train_iter:
                trainer.zero_grad()
                l = loss(net(X), y)
                l.mean().backward()
                trainer.step()
        return net[0].weight.data.numpy()

    weight = train(poly_features[:n_train, :4], poly_features[n_train:, :4],
                   labels[:n_train], labels[n_train:])
    return {"features": poly_features, "weight": weight}


def test_polynomial_fit():
    z, t = run_both(polynomial_fit)
    compare(z, t, shapes_only=("weight",))
    for r in (z, t):
        assert type(r["weight"]) is np.ndarray
        np.testing.assert_allclose(r["weight"][0], [5, 1.2, -3.4, 5.6], atol=1.0)


def kaggle_house(torch, nn, F, data):  # 5.7 (4.10 in d2l 0.17) on a tiny made-up table
    rng = np.random.default_rng(0)
    n = 60
    train_data = pd.DataFrame({"Id": range(n), "LotArea": rng.integers(2000, 20000, n),
                               # object dtype as in pandas < 3, which the book's
                               # `!= 'object'` test expects
                               "MSZoning": pd.Series(rng.choice(["RL", "RM", None], n),
                                                     dtype=object),
                               "YearBuilt": rng.integers(1900, 2010, n).astype(float)})
    train_data.loc[3, "YearBuilt"] = np.nan
    train_data["SalePrice"] = 50 * train_data["LotArea"] + rng.integers(10000, 50000, n)
    test_data = train_data.drop(columns="SalePrice").iloc[:10]
    all_features = pd.concat((train_data.iloc[:, 1:-1], test_data.iloc[:, 1:]))
    # If test data were inaccessible, mean and standard deviation could be
    # calculated from training data
    numeric_features = all_features.dtypes[all_features.dtypes != 'object'].index
    all_features[numeric_features] = all_features[numeric_features].apply(
        lambda x: (x - x.mean()) / (x.std()))
    # After standardizing the data all means vanish, hence we can set missing
    # values to 0
    all_features[numeric_features] = all_features[numeric_features].fillna(0)
    # `Dummy_na=True` considers "na" (missing value) as a valid feature value, and
    # creates an indicator feature for it
    all_features = pd.get_dummies(all_features, dummy_na=True)
    n_train = train_data.shape[0]
    train_features = torch.tensor(all_features[:n_train].values.astype(float),
                                  dtype=torch.float32)
    test_features = torch.tensor(all_features[n_train:].values.astype(float),
                                 dtype=torch.float32)
    train_labels = torch.tensor(
        train_data.SalePrice.values.reshape(-1, 1), dtype=torch.float32)
    loss = nn.MSELoss()
    in_features = train_features.shape[1]

    def get_net():
        net = nn.Sequential(nn.Linear(in_features,1))
        return net

    def log_rmse(net, features, labels):
        # To further stabilize the value when the logarithm is taken, set the
        # value less than 1 as 1
        clipped_preds = torch.clamp(net(features), 1, float('inf'))
        rmse = torch.sqrt(loss(torch.log(clipped_preds),
                               torch.log(labels)))
        return rmse.item()

    def load_array(data_arrays, batch_size, is_train=True):
        dataset = data.TensorDataset(*data_arrays)
        return data.DataLoader(dataset, batch_size, shuffle=is_train)

    def train(net, train_features, train_labels, test_features, test_labels,
              num_epochs, learning_rate, weight_decay, batch_size):
        train_ls, test_ls = [], []
        train_iter = load_array((train_features, train_labels), batch_size)
        # The Adam optimization algorithm is used here
        optimizer = torch.optim.Adam(net.parameters(),
                                     lr = learning_rate,
                                     weight_decay = weight_decay)
        for epoch in range(num_epochs):
            for X, y in train_iter:
                optimizer.zero_grad()
                l = loss(net(X), y)
                l.backward()
                optimizer.step()
            train_ls.append(log_rmse(net, train_features, train_labels))
            if test_labels is not None:
                test_ls.append(log_rmse(net, test_features, test_labels))
        return train_ls, test_ls

    def get_k_fold_data(k, i, X, y):
        assert k > 1
        fold_size = X.shape[0] // k
        X_train, y_train = None, None
        for j in range(k):
            idx = slice(j * fold_size, (j + 1) * fold_size)
            X_part, y_part = X[idx, :], y[idx]
            if j == i:
                X_valid, y_valid = X_part, y_part
            elif X_train is None:
                X_train, y_train = X_part, y_part
            else:
                X_train = torch.cat([X_train, X_part], 0)
                y_train = torch.cat([y_train, y_part], 0)
        return X_train, y_train, X_valid, y_valid

    def k_fold(k, X_train, y_train, num_epochs, learning_rate, weight_decay, batch_size):
        train_l_sum, valid_l_sum = 0, 0
        for i in range(k):
            data = get_k_fold_data(k, i, X_train, y_train)
            net = get_net()
            train_ls, valid_ls = train(net, *data, num_epochs, learning_rate,
                                       weight_decay, batch_size)
            train_l_sum += train_ls[-1]
            valid_l_sum += valid_ls[-1]
        return train_l_sum / k, valid_l_sum / k

    k, num_epochs, lr, weight_decay, batch_size = 3, 20, 5, 0, 16
    train_l, valid_l = k_fold(k, train_features, train_labels, num_epochs, lr,
                              weight_decay, batch_size)
    net = get_net()
    train_ls, _ = train(net, train_features, train_labels, None, None, num_epochs, lr,
                        weight_decay, batch_size)
    preds = net(test_features).detach().numpy()
    test_data['SalePrice'] = pd.Series(preds.reshape(1, -1)[0])
    return {"features": (train_features, test_features), "k_fold": (train_l, valid_l),
            "train_ls": train_ls, "preds": preds}


def test_kaggle_house():
    z, t = run_both(kaggle_house)
    compare(z, t, shapes_only=("k_fold", "train_ls", "preds"))
    for r in (z, t):
        assert all(np.isfinite(r["k_fold"])), r["k_fold"]
        assert r["train_ls"][-1] < 0.9 * r["train_ls"][0], r["train_ls"]
