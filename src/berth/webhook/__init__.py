"""`berth webhook`: Berth's policy admission for a real Kubernetes cluster, as an HTTPS AdmissionReview v1
endpoint that kube-apiserver calls before it stores a workload or a policy.

It runs the same `berth.policy.admission.admit` as the embedded API server, reading policies and base
workloads from the cluster through `berth.client`, and answers with a JSONPatch of the defaults or a
refusal naming every broken rule.
"""
