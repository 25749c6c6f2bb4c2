package pgtqtest

// StartDocker exposes the Docker fallback to the tests.
var StartDocker = startDocker
