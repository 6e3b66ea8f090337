"""berth.operator: Berth on a real Kubernetes cluster, as `controlplane` is Berth on one machine.

It assembles the controllers, the scheduler and the admission webhook against any Kubernetes API
(`run`), with leader election through a `coordination.k8s.io` Lease (`lease`: the decisions, `election`: the
calls) so that of several replicas one acts; `components` is the assembly `berth up` shares.
"""
