"""A real torch.distributed all-reduce over gloo (CPU), for a DistributedWorkload with jobType PyTorchJob.

Each process adds its rank + 1; after the all-reduce every process holds 1 + 2 + ... + WORLD_SIZE. The
rendezvous comes from the variables Berth's controller sets: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK.
"""

import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value, op=dist.ReduceOp.SUM)
expected = world * (world + 1) / 2
print(f"rank {rank} of {world}: all-reduce gave {value.item():g} (expected {expected:g})", flush=True)
dist.destroy_process_group()
raise SystemExit(0 if value.item() == expected else 1)
