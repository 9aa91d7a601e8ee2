"""d2l chapter 6 (builders' guide: modules, parameters, init, lazy layers, custom layers,
file I/O, GPUs) verbatim on zerograd and torch."""
import os

import pytest

from tests.d2l._harness import compare, libs, run_both

# torch warns when d2l calls float() on a loss that requires grad; the code is the book's
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def layers_and_modules(torch, nn, F, data):  # 6.1
    r = {}
    net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    X = torch.rand(2, 20)
    r["sequential"] = net(X).shape

    class MLP(nn.Module):
        def __init__(self):
            # Call the constructor of the parent class nn.Module to perform
            # the necessary initialization
            super().__init__()
            self.hidden = nn.LazyLinear(256)
            self.output = nn.LazyLinear(10)

        # Define the forward propagation of the model, that is, how to return the
        # required model output based on the input X
        def forward(self, X):
            return self.output(F.relu(self.hidden(X)))

    net = MLP()
    r["mlp"] = net(X).shape

    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

        def forward(self, X):
            for module in self.children():
                X = module(X)
            return X

    net = MySequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    r["mysequential"] = net(X).shape

    class MySequentialOld(nn.Module):  # d2l 0.17 spelling
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                # Here, `module` is an instance of a `Module` subclass. We save it
                # in the member variable `_modules` of the `Module` class, and its
                # type is OrderedDict
                self._modules[str(idx)] = module

        def forward(self, X):
            # OrderedDict guarantees that members will be traversed in the order
            # they were added
            for block in self._modules.values():
                X = block(X)
            return X

    net = MySequentialOld(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    r["mysequential old"] = net(X).shape, len(list(net.parameters())), list(net.state_dict())

    class FixedHiddenMLP(nn.Module):
        def __init__(self):
            super().__init__()
            # Random weight parameters that will not compute gradients and
            # therefore keep constant during training
            self.rand_weight = torch.rand((20, 20))
            self.linear = nn.LazyLinear(20)

        def forward(self, X):
            X = self.linear(X)
            X = F.relu(X @ self.rand_weight + 1)
            # Reuse the fully connected layer. This is equivalent to sharing
            # parameters with two fully connected layers
            X = self.linear(X)
            # Control flow
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    class FixedHiddenMLPOld(nn.Module):  # d2l 0.17 spelling
        def __init__(self):
            super().__init__()
            self.rand_weight = torch.rand((20, 20), requires_grad=False)
            self.linear = nn.Linear(20, 20)

        def forward(self, X):
            X = self.linear(X)
            X = F.relu(torch.mm(X, self.rand_weight) + 1)
            X = self.linear(X)
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    net = FixedHiddenMLP()
    r["fixed"] = net(X).shape, float(net(X).abs()) <= 1
    net = FixedHiddenMLPOld()
    r["fixed old"] = net(X).shape, float(net(X).abs()) <= 1

    class NestMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.LazyLinear(64), nn.ReLU(),
                                     nn.LazyLinear(32), nn.ReLU())
            self.linear = nn.LazyLinear(16)

        def forward(self, X):
            return self.linear(self.net(X))

    chimera = nn.Sequential(NestMLP(), nn.LazyLinear(20), FixedHiddenMLP())
    r["chimera"] = chimera(X).shape
    r["repr"] = repr(chimera)
    return r


def test_layers_and_modules():
    z, t = run_both(layers_and_modules)
    compare(z, t)


def parameter_management(torch, nn, F, data):  # 6.2
    r = {}
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    X = torch.rand(size=(2, 4))
    r["out"] = net(X).shape
    r["state_dict"] = list(net[2].state_dict().keys()), str(type(net[2].bias)).split(".")[-1]
    r["bias"] = net[2].bias.data.shape, net[2].bias.data.requires_grad
    r["grad is None"] = net[2].weight.grad == None
    r["names 0"] = [(name, param.shape) for name, param in net[0].named_parameters()]
    r["names"] = [(name, param.shape) for name, param in net.named_parameters()]
    r["by key"] = net.state_dict()['2.bias'].data.shape

    def block1():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(),
                             nn.Linear(8, 4), nn.ReLU())

    def block2():
        net = nn.Sequential()
        for i in range(4):
            # Nested here
            net.add_module(f'block {i}', block1())
        return net

    rgnet = nn.Sequential(block2(), nn.Linear(4, 1))
    r["rgnet"] = rgnet(X).shape
    r["rgnet repr"] = repr(rgnet)
    r["nested"] = rgnet[0][1][0].bias.data.shape
    shared = nn.LazyLinear(8)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(),
                        shared, nn.ReLU(),
                        shared, nn.ReLU(),
                        nn.LazyLinear(1))
    net(X)
    # Check whether the parameters are the same
    r["tied"] = net[2].weight.data[0] == net[4].weight.data[0]
    net[2].weight.data[0, 0] = 100
    # Make sure that they are actually the same object rather than just having the
    # same value
    r["tied after"] = net[2].weight.data[0] == net[4].weight.data[0]
    r["tied count"] = len(list(net.parameters()))
    return r


def test_parameter_management():
    z, t = run_both(parameter_management)
    compare(z, t)


def parameter_initialization(torch, nn, F, data):  # 6.3
    r = {}
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    X = torch.rand(size=(2, 4))
    net(X).shape

    def init_normal(module):
        if type(module) == nn.Linear:
            nn.init.normal_(module.weight, mean=0, std=0.01)
            nn.init.zeros_(module.bias)

    net.apply(init_normal)
    r["normal"] = net[0].weight.data[0].clone(), net[0].bias.data[0].clone()
    r["normal std"] = float(net[0].weight.data.std()) < 0.05

    def init_constant(module):
        if type(module) == nn.Linear:
            nn.init.constant_(module.weight, 1)
            nn.init.zeros_(module.bias)

    net.apply(init_constant)
    r["constant"] = net[0].weight.data[0].clone(), net[0].bias.data[0].clone()

    def init_xavier(module):
        if type(module) == nn.Linear:
            nn.init.xavier_uniform_(module.weight)

    def init_42(module):
        if type(module) == nn.Linear:
            nn.init.constant_(module.weight, 42)

    net[0].apply(init_xavier)
    net[2].apply(init_42)
    r["xavier"] = (net[0].weight.data[0].clone(),
                   float(net[0].weight.data.abs().max()) <= (6 / 12) ** .5)
    r["42"] = net[2].weight.data.clone()

    def my_init(module):
        if type(module) == nn.Linear:
            r.setdefault("init log", []).append(
                ("Init", *[(name, param.shape) for name, param in module.named_parameters()][0]))
            nn.init.uniform_(module.weight, -10, 10)
            module.weight.data *= module.weight.data.abs() >= 5

    net.apply(my_init)
    w = net[0].weight[:2]
    r["my_init"] = w.clone(), bool(((w.abs() >= 5) | (w == 0)).all())
    net[0].weight.data[:] += 1
    net[0].weight.data[0, 0] = 42
    r["manual"] = net[0].weight.data[0], net[0].weight.requires_grad
    return r


def test_parameter_initialization():
    z, t = run_both(parameter_initialization)
    compare(z, t, shapes_only=("normal", "xavier", "my_init", "manual"))
    for r in (z, t):
        w = r["manual"][0]
        assert float(w[0]) == 42 and bool((((w[1:] - 1).abs() >= 5) | (w[1:] == 1)).all())


def lazy_initialization(torch, nn, F, data):  # 6.4
    net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    before = type(net[0].weight).__name__
    X = torch.rand(2, 20)
    net(X)
    return {"before": before, "after": net[0].weight.shape,
            "type after": type(net[0].weight).__name__, "class": type(net[0]).__name__,
            "params": [p.shape for p in net.parameters()]}


def test_lazy_initialization():
    z, t = run_both(lazy_initialization)
    compare(z, t)


def custom_layers(torch, nn, F, data):  # 6.5
    r = {}

    class CenteredLayer(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, X):
            return X - X.mean()

    layer = CenteredLayer()
    r["centered"] = layer(torch.tensor([1.0, 2, 3, 4, 5]))
    r["FloatTensor"] = layer(torch.FloatTensor([1, 2, 3, 4, 5]))  # d2l 0.17 spelling
    net = nn.Sequential(nn.LazyLinear(128), CenteredLayer())
    Y = net(torch.rand(4, 8))
    r["mean"] = abs(float(Y.mean())) < 1e-6

    class MyLinear(nn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(in_units, units))
            self.bias = nn.Parameter(torch.randn(units,))

        def forward(self, X):
            linear = torch.matmul(X, self.weight.data) + self.bias.data
            return F.relu(linear)

    linear = MyLinear(5, 3)
    r["weight"] = linear.weight.shape, linear.weight.requires_grad
    r["out"] = linear(torch.rand(2, 5))
    net = nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))
    r["net"] = net(torch.rand(2, 64))
    r["names"] = [name for name, _ in net.named_parameters()]
    return r


def test_custom_layers():
    z, t = run_both(custom_layers)
    compare(z, t, shapes_only=("out", "net"))


def file_io(torch, nn, F, data):  # 6.6
    r = {}
    x = torch.arange(4)
    torch.save(x, 'x-file')
    x2 = torch.load('x-file')
    r["x2"] = x2
    y = torch.zeros(4)
    torch.save([x, y],'x-files')
    x2, y2 = torch.load('x-files')
    r["list"] = (x2, y2)
    mydict = {'x': x, 'y': y}
    torch.save(mydict, 'mydict')
    mydict2 = torch.load('mydict')
    r["dict"] = mydict2

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.LazyLinear(256)
            self.output = nn.LazyLinear(10)

        def forward(self, x):
            return self.output(F.relu(self.hidden(x)))

    net = MLP()
    X = torch.randn(size=(2, 20))
    Y = net(X)
    torch.save(net.state_dict(), 'mlp.params')
    clone = MLP()
    clone.load_state_dict(torch.load('mlp.params'))
    clone.eval()
    Y_clone = clone(X)
    r["clone"] = Y_clone == Y

    class MLPOld(nn.Module):  # d2l 0.17: eager layers
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(20, 256)
            self.output = nn.Linear(256, 10)

        def forward(self, x):
            return self.output(F.relu(self.hidden(x)))

    net = MLPOld()
    Y = net(X)
    torch.save(net.state_dict(), 'mlp.params')
    clone = MLPOld()
    clone.load_state_dict(torch.load('mlp.params'))
    clone.eval()
    r["clone old"] = clone(X) == Y
    r["files"] = [os.path.isfile(f) for f in ('x-file', 'x-files', 'mydict', 'mlp.params')]
    return r


def test_file_io(tmp_path, monkeypatch):
    for name in ("zerograd", "torch"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "zerograd")
    z = file_io(*libs("zerograd"))
    monkeypatch.chdir(tmp_path / "torch")
    t = file_io(*libs("torch"))
    compare(z, t)


def gpus(torch, nn, F, data):  # 6.7, on a machine without a GPU
    r = {}
    r["devices"] = [str(d) for d in (torch.device('cpu'), torch.device('cuda'),
                                     torch.device('cuda:1'))]
    r["eq"] = torch.device('cpu') == torch.device('cpu'), torch.device('cuda:0') == 'cuda:0'
    r["count"] = torch.cuda.device_count()
    r["available"] = torch.cuda.is_available()

    def try_gpu(i=0):
        """Return gpu(i) if exists, otherwise return cpu()."""
        if torch.cuda.device_count() >= i + 1:
            return torch.device(f'cuda:{i}')
        return torch.device('cpu')

    def try_all_gpus():
        """Return all available GPUs, or [cpu(),] if no GPU exists."""
        devices = [torch.device(f'cuda:{i}')
                   for i in range(torch.cuda.device_count())]
        return devices if devices else [torch.device('cpu')]

    r["try"] = [str(d) for d in (try_gpu(), try_gpu(10), *try_all_gpus())]
    x = torch.tensor([1, 2, 3])
    r["x.device"] = str(x.device), x.device == try_gpu(), x.device.type
    X = torch.ones(2, 3, device=try_gpu())
    Y = torch.rand(2, 3, device=try_gpu(1))
    Z = X.cuda(1) if torch.cuda.device_count() > 1 else X.to(try_gpu(1))
    r["Z"] = Z, (Y + Z).shape, Z.to(try_gpu()) is Z
    net = nn.Sequential(nn.LazyLinear(1))
    net = net.to(device=try_gpu())
    r["net"] = net(X).shape
    r["weight device"] = str(net[0].weight.data.device)
    r["to kinds"] = X.to('cpu').device.type, X.to(torch.float64).dtype == torch.float64, \
        X.to(try_gpu(), torch.float64).dtype == torch.float64
    return r


def test_gpus():
    z, t = run_both(gpus)
    compare(z, t)
