"""Berth: an open implementation of the Run:ai Cluster API and the GPU scheduling behind it.

See ARCHITECTURE in the project's shared design notes and docs/ for what each package owns.
"""

__version__ = "0.1.0"
