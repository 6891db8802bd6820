"""Neural-network library built from Values (see chaingrad.nn.Module, MLP)."""
