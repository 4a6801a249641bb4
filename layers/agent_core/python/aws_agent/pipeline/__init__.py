"""The task pipeline's steps; each Lambda handler calls exactly one function here."""
