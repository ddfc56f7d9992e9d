"""What the service sends out: webhook deliveries over HTTP."""
