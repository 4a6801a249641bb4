"""The organization: account directory, lifecycle, org-wide discovery, consolidated billing and budgets."""
