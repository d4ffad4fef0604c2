// Package localstack holds the LocalStack setup for users with Docker
// (docker-compose.yml, init/ready.d/init.sh, Makefile.inc) and, behind the
// "localstack" build tag, end-to-end tests of the AWS wiring against it;
// see README.md. The Go code is tests only; this file makes the directory
// a package.
package localstack
