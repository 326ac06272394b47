"""seqit: sequential instruction tuning (Hu, Yu, Chen, Ponti; NAACL 2025), as a tested, reproducible package.

Importing the package is cheap and needs no GPU, unsloth or spaCy; heavy dependencies load inside the functions
that use them.
"""

__version__ = "0.1.0"
