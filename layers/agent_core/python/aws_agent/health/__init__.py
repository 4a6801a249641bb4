"""Service-agent health: alarms per managed resource, health routing, bounded auto-healing and the health sweep."""
