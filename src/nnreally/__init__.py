"""nnreally: the PyTorch tutorial "What is torch.nn really?" as runnable, tested stages."""

__version__ = "0.1.0"
