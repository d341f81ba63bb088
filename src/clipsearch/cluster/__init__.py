"""Running on a Dask cluster (imported only when a cluster is asked for).

    connect.py   reaching a scheduler (one line when it cannot be), a LocalCluster
    search.py    one actor per shard, kept open; calls fanned out, retried once
    build.py     a sharded build as tasks: files read and routed, then one per shard
"""
