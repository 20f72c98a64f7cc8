//! The rApp's PQC certificate authority (issue 8). Skeleton.
