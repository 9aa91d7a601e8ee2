"""d2l chapter 8 (modern CNNs: AlexNet, VGG, NiN, GoogLeNet, batch norm, ResNet, DenseNet)
verbatim on zerograd and torch: layer-by-layer shapes, and training steps compared."""
import copy

import numpy as np
import pytest

from tests.d2l._harness import compare, copy_weights, libs, run_both

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def shapes(torch, net, X):
    """d2l's layer-by-layer shape printout, collected instead of printed."""
    lines = []
    for layer in net:
        X = layer(X)
        lines.append(f"{layer.__class__.__name__} output shape:\t{tuple(X.shape)}")
    return lines


def alexnet_vgg_nin(torch, nn, F, data):  # 8.1-8.3 (7.1-7.3 in d2l 0.17)
    r = {}
    net = nn.Sequential(
        # Here, we use a larger 11 x 11 window to capture objects. At the same time,
        # we use a stride of 4 to greatly reduce the height and width of the output.
        # Here, the number of output channels is much larger than that in LeNet
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        # Make the convolution window smaller, set padding to 2 for consistent
        # height and width across the input and output, and increase the number of
        # output channels
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        # Use three successive convolutional layers and a smaller convolution
        # window. Except for the final convolutional layer, the number of output
        # channels is further increased. Pooling layers are not used to reduce the
        # height and width of input after the first two convolutional layers
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        # Here, the number of outputs of the fully connected layer is several
        # times larger than that in LeNet. Use the dropout layer to mitigate
        # overfitting
        nn.Linear(6400, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        # Output layer. Since we are using Fashion-MNIST, the number of classes is
        # 10, instead of 1000 as in the paper
        nn.Linear(4096, 10))
    X = torch.randn(1, 1, 224, 224)
    r["alexnet"] = shapes(torch, net, X)

    def vgg_block(num_convs, in_channels, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(nn.Conv2d(in_channels, out_channels,
                                    kernel_size=3, padding=1))
            layers.append(nn.ReLU())
            in_channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2,stride=2))
        return nn.Sequential(*layers)

    conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))

    def vgg(conv_arch):
        conv_blks = []
        in_channels = 1
        # The convolutional part
        for (num_convs, out_channels) in conv_arch:
            conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
        return nn.Sequential(
            *conv_blks, nn.Flatten(),
            # The fully-connected part
            nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 10))

    ratio = 4
    small_conv_arch = [(pair[0], pair[1] // ratio) for pair in conv_arch]
    net = vgg(small_conv_arch)
    r["vgg"] = shapes(torch, net, torch.randn(size=(1, 1, 224, 224)))

    def nin_block(in_channels, out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())

    net = nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        # There are 10 label classes
        nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        # Transform the four-dimensional output into two-dimensional output with a
        # shape of (batch size, 10)
        nn.Flatten())
    r["nin"] = shapes(torch, net, torch.rand(size=(1, 1, 224, 224)))
    return r


def test_alexnet_vgg_nin():
    z, t = run_both(alexnet_vgg_nin)
    compare(z, t)


def lazy_alexnet_vgg(torch, nn, F, data):  # d2l 1.0 spellings with lazy layers
    def vgg_block(num_convs, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
            layers.append(nn.ReLU())
        layers.append(nn.MaxPool2d(kernel_size=2,stride=2))
        return nn.Sequential(*layers)

    arch = ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    conv_blks = []
    for (num_convs, out_channels) in arch:
        conv_blks.append(vgg_block(num_convs, out_channels))
    net = nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(10))
    lines = shapes(torch, net, torch.randn(1, 1, 224, 224))
    return {"vgg": lines, "params": [tuple(p.shape) for p in net.parameters()],
            "repr": repr(net)}


def test_lazy_vgg():
    z, t = run_both(lazy_alexnet_vgg)
    compare(z, t)


def googlenet(torch, nn, F, data):  # 8.4 (7.4 in d2l 0.17)
    class Inception(nn.Module):
        # `c1`--`c4` are the number of output channels for each path
        def __init__(self, in_channels, c1, c2, c3, c4, **kwargs):
            super(Inception, self).__init__(**kwargs)
            # Path 1 is a single 1 x 1 convolutional layer
            self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
            # Path 2 is a 1 x 1 convolutional layer followed by a 3 x 3
            # convolutional layer
            self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
            self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
            # Path 3 is a 1 x 1 convolutional layer followed by a 5 x 5
            # convolutional layer
            self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
            self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
            # Path 4 is a 3 x 3 maximum pooling layer followed by a 1 x 1
            # convolutional layer
            self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

        def forward(self, x):
            p1 = F.relu(self.p1_1(x))
            p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
            p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
            p4 = F.relu(self.p4_2(self.p4_1(x)))
            # Concatenate the outputs on the channel dimension
            return torch.cat((p1, p2, p3, p4), dim=1)

    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1),
                       nn.ReLU(),
                       nn.Conv2d(64, 192, kernel_size=3, padding=1),
                       nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1,1)),
                       nn.Flatten())
    net = nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))
    X = torch.rand(size=(1, 1, 96, 96))
    return {"shapes": shapes(torch, net, X), "n_params": sum(p.numel() for p in net.parameters())}


def test_googlenet():
    z, t = run_both(googlenet)
    compare(z, t)


def batch_norm_nets(torch, nn, F, data):  # 8.5 (7.5 in d2l 0.17)
    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        # Use `is_grad_enabled` to determine whether we are in training mode
        if not torch.is_grad_enabled():
            # In prediction mode, use mean and variance obtained by moving average
            X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                # When using a fully connected layer, calculate the mean and
                # variance on the feature dimension
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                # When using a two-dimensional convolutional layer, calculate the
                # mean and variance on the channel dimension (axis=1). Here we
                # need to maintain the shape of `X`, so that the broadcasting
                # operation can be carried out later
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            # In training mode, the current mean and variance are used
            X_hat = (X - mean) / torch.sqrt(var + eps)
            # Update the mean and variance using moving average
            moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
            moving_var = momentum * moving_var + (1.0 - momentum) * var
        Y = gamma * X_hat + beta  # Scale and shift
        return Y, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        # `num_features`: the number of outputs for a fully connected layer
        # or the number of output channels for a convolutional layer. `num_dims`:
        # 2 for a fully connected layer and 4 for a convolutional layer
        def __init__(self, num_features, num_dims):
            super().__init__()
            if num_dims == 2:
                shape = (1, num_features)
            else:
                shape = (1, num_features, 1, 1)
            # The scale parameter and the shift parameter (model parameters) are
            # initialized to 1 and 0, respectively
            self.gamma = nn.Parameter(torch.ones(shape))
            self.beta = nn.Parameter(torch.zeros(shape))
            # The variables that are not model parameters are initialized to 0 and
            # 1
            self.moving_mean = torch.zeros(shape)
            self.moving_var = torch.ones(shape)

        def forward(self, X):
            # If `X` is not on the main memory, copy `moving_mean` and
            # `moving_var` to the device where `X` is located
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            # Save the updated `moving_mean` and `moving_var`
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean,
                self.moving_var, eps=1e-5, momentum=0.9)
            return Y

    scratch = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), BatchNorm(6, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), BatchNorm(16, num_dims=4), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16*4*4, 120), BatchNorm(120, num_dims=2), nn.Sigmoid(),
        nn.Linear(120, 84), BatchNorm(84, num_dims=2), nn.Sigmoid(),
        nn.Linear(84, 10))
    concise = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))
    lazy = nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(),
        nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(),
        nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(),
        nn.Sigmoid(), nn.LazyLinear(84), nn.LazyBatchNorm1d(),
        nn.Sigmoid(), nn.LazyLinear(10))
    return scratch, concise, lazy


def test_batch_norm_training_steps_match_torch():
    """One d2l training step (train_ch6's body) of each BN LeNet from the same weights."""
    rng = np.random.default_rng(0)
    images = rng.random((16, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, 16)
    results, start = [], None
    for name in ("zerograd", "torch"):
        torch, nn, F, data = libs(name)
        nets = batch_norm_nets(torch, nn, F, data)
        X, y = torch.tensor(images), torch.tensor(labels)
        nets[2](X)  # materialize the lazy net before copying weights into it
        if start is None:
            start = copy.deepcopy(nets)
        else:
            for a, b in zip(start, nets):
                copy_weights(a, b)
        out = {}
        for kind, net in zip(("scratch", "concise", "lazy"), nets):
            optimizer = torch.optim.SGD(net.parameters(), lr=0.9)
            loss = nn.CrossEntropyLoss()
            net.train()
            optimizer.zero_grad()
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            net.eval()
            with torch.no_grad():
                pred = net(X)
            out[kind] = {"loss": l, "params": [p.data for p in net.parameters()],
                         "eval": pred, "state": {k: v for k, v in net.state_dict().items()}}
        out["moving"] = [nets[0][i].moving_mean for i in (1, 5, 10, 13)] + \
            [nets[0][i].moving_var for i in (1, 5, 10, 13)]
        out["gamma"] = nets[0][1].gamma.reshape((-1,)), nets[0][1].beta.reshape((-1,))
        results.append(out)
    compare(*results, rtol=1e-4, atol=1e-5)


def resnet(torch, nn, F, data):  # 8.6 (7.6 in d2l 0.17)
    class Residual(nn.Module):  #@save
        def __init__(self, input_channels, num_channels,
                     use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(input_channels, num_channels,
                                   kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(num_channels, num_channels,
                                   kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.Conv2d(input_channels, num_channels,
                                       kernel_size=1, stride=strides)
            else:
                self.conv3 = None
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    r = {}
    blk = Residual(3,3)
    X = torch.rand(4, 3, 6, 6)
    Y = blk(X)
    r["same"] = Y.shape
    blk = Residual(3,6, use_1x1conv=True, strides=2)
    r["halved"] = blk(X).shape
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def resnet_block(input_channels, num_channels, num_residuals,
                     first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(input_channels, num_channels,
                                    use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels, num_channels))
        return blk

    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    net = nn.Sequential(b1, b2, b3, b4, b5,
                        nn.AdaptiveAvgPool2d((1,1)),
                        nn.Flatten(), nn.Linear(512, 10))
    X = torch.rand(size=(1, 1, 96, 96))
    r["shapes"] = shapes(torch, net, X)
    small = nn.Sequential(b1, b2, nn.AdaptiveAvgPool2d((1,1)), nn.Flatten(),
                          nn.Linear(64, 10))
    return r, small


def test_resnet():
    (z, _), (t, _) = run_both(resnet)
    compare(z, t)


def test_resnet_training_step_matches_torch():
    rng = np.random.default_rng(0)
    images = rng.random((4, 1, 32, 32), dtype=np.float32)
    labels = rng.integers(0, 10, 4)
    results, start = [], None
    for name in ("zerograd", "torch"):
        torch, nn, F, data = libs(name)
        _, net = resnet(torch, nn, F, data)
        if start is None:
            start = copy.deepcopy(net)
        else:
            copy_weights(start, net)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
        loss = nn.CrossEntropyLoss()
        X, y = torch.tensor(images), torch.tensor(labels)
        optimizer.zero_grad()
        l = loss(net(X), y)
        l.backward()
        grads = [p.grad.clone() for p in net.parameters()]
        optimizer.step()
        results.append({"loss": l, "grads": grads, "state": net.state_dict()})
    compare(*results, rtol=1e-3, atol=1e-5)


def densenet(torch, nn, F, data):  # 8.7 (7.7 in d2l 0.17)
    def conv_block(input_channels, num_channels):
        return nn.Sequential(
            nn.BatchNorm2d(input_channels), nn.ReLU(),
            nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, input_channels, num_channels):
            super(DenseBlock, self).__init__()
            layer = []
            for i in range(num_convs):
                layer.append(conv_block(
                    num_channels * i + input_channels, num_channels))
            self.net = nn.Sequential(*layer)

        def forward(self, X):
            for blk in self.net:
                Y = blk(X)
                # Concatenate the input and output of each block on the channel
                # dimension
                X = torch.cat((X, Y), dim=1)
            return X

    r = {}
    blk = DenseBlock(2, 3, 10)
    X = torch.randn(4, 3, 8, 8)
    Y = blk(X)
    r["block"] = Y.shape

    def transition_block(input_channels, num_channels):
        return nn.Sequential(
            nn.BatchNorm2d(input_channels), nn.ReLU(),
            nn.Conv2d(input_channels, num_channels, kernel_size=1),
            nn.AvgPool2d(kernel_size=2, stride=2))

    blk = transition_block(23, 10)
    r["transition"] = blk(Y).shape
    b1 = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    # `num_channels`: the current number of channels
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    blks = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, num_channels, growth_rate))
        # This is the number of output channels in the previous dense block
        num_channels += num_convs * growth_rate
        # A transition layer that halves the number of channels is added between
        # the dense blocks
        if i != len(num_convs_in_dense_blocks) - 1:
            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    net = nn.Sequential(
        b1, *blks,
        nn.BatchNorm2d(num_channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(num_channels, 10))
    r["shapes"] = shapes(torch, net, torch.rand(size=(1, 1, 96, 96)))
    return r


def test_densenet():
    z, t = run_both(densenet)
    compare(z, t)
