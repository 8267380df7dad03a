"""A real JetStream cluster and a TCP load balancer on loopback, for the relay fleet's tests."""
