"""Cost optimization sweeps across an Organization's accounts x regions (idle EC2, unused S3, RDS, EBS, EIPs).

targets (where to look), metrics (batched CloudWatch reads), checks (what is wasteful), policy and options (what
the agent may do about it), clients (boto3 clients, request counts), sweep (one target, then the fleet, into a
CostReport). Import the submodules; this package imports nothing on its own.
"""
