"""Training the CID relation methods, one module per method (inference never imports these)."""
