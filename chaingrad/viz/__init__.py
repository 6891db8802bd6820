"""Graph rendering with Graphviz (see chaingrad.viz.draw_dot)."""
