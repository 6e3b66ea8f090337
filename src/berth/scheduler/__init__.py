"""Berth's GPU scheduler: places every pod whose `schedulerName` is `runai-scheduler`.

`core` is the pure part: an in-memory snapshot in, decisions out (bind, evict, why a job waits), with no I/O,
so the simulator and the benchmarks run the real scheduler at full speed. The runner that feeds the core from
the API and writes its decisions back lives next to it and is the only part that talks to the API server.
"""
