"""dyngraph: define-by-run autograd with PyTorch semantics."""
