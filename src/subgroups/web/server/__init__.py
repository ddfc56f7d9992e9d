"""What runs under the app: the HTTP protocol with its bounded request head, and the JSON logs."""
