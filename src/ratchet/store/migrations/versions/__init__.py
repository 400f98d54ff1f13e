"""One file per schema revision: v1 core tables, v2 indices, later ones as needed."""
