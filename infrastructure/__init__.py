"""The CDK app of AWS Agent: one construct per concern, composed by `AgentStack`."""
