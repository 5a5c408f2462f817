"""graphcompare: the comparison of dyngraph and staticgraph."""
