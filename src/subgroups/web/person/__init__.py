"""The pages a person reaches from a message (contract §11): one-click unsubscribe and preferences."""
