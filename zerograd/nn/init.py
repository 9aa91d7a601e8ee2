"""``nn.init``: in-place initializers with PyTorch's names and distributions."""
