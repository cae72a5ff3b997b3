"""The nn modules beyond modules.py, one file per concern (as torch/nn/modules/):
each holds parameters and buffers with PyTorch's names and init and calls one
nn.functional function in forward."""
