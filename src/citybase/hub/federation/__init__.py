"""District brains as their own deployments: the exchange between the city's brain and the
districts' over NATS JetStream (cases up and down, their steps both ways, figures up, the
taxonomy, dispatch catalog and working calendar down)."""
