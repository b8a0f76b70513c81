//! Test kit: fake hypervisor services and fake backends for host tests.
