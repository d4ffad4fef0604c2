#!/bin/bash
# Runs inside LocalStack once it is ready (LocalStack's init hook): creates
# what infra/template.yaml declares for state and messaging — the four work
# queues with their dead-letter queues (promotions FIFO), the EventBridge
# target's DLQ and the ECR push rule, the table with its GSI and TTL, and
# the three secrets — then writes the environment the functions read to
# /var/lib/conveyor/conveyor.env (localstack/.state/ on the host).
set -euo pipefail

region=${AWS_DEFAULT_REGION:-us-east-1}
max_receives=${CONVEYOR_MAX_RECEIVES:-5}
table=${CONVEYOR_TABLE:-conveyor}
out=${CONVEYOR_ENV_DIR:-/var/lib/conveyor}
mkdir -p "$out"
env_file="$out/conveyor.env"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.json"' EXIT

say() { echo "conveyor init: $*"; }
put() { printf '%s=%s\n' "$1" "$2" >>"$tmp"; }

put CONVEYOR_AWS_ENDPOINT http://127.0.0.1:4566
put AWS_REGION "$region"
put AWS_ACCESS_KEY_ID test
put AWS_SECRET_ACCESS_KEY test
put CONVEYOR_TABLE "$table"

# create_queue NAME ATTRIBUTES_JSON: prints the queue URL.
create_queue() {
  printf '%s' "$2" >"$tmp.json"
  awslocal sqs create-queue --queue-name "$1" --attributes "file://$tmp.json" --query QueueUrl --output text
}

queue_arn() {
  awslocal sqs get-queue-attributes --queue-url "$1" --attribute-names QueueArn --query Attributes.QueueArn --output text
}

# work_queue NAME VISIBILITY FIFO: the DLQ first (14 days), then the queue
# (4 days) redriving to it after $max_receives receives, as in the template.
work_queue() {
  local name=$1 visibility=$2 fifo=$3 suffix="" fifo_attrs="" var
  if [ "$fifo" = true ]; then
    suffix=.fifo
    fifo_attrs=',"FifoQueue":"true","ContentBasedDeduplication":"false"'
  fi
  local dlq_url url dlq_arn
  dlq_url=$(create_queue "$name-dlq$suffix" "{\"MessageRetentionPeriod\":\"1209600\",\"MaximumMessageSize\":\"262144\"$fifo_attrs}")
  dlq_arn=$(queue_arn "$dlq_url")
  if [ "$fifo" = true ]; then
    fifo_attrs="$fifo_attrs"',"DeduplicationScope":"messageGroup","FifoThroughputLimit":"perMessageGroupId"'
  fi
  url=$(create_queue "$name$suffix" "{\"VisibilityTimeout\":\"$visibility\",\"MessageRetentionPeriod\":\"345600\",\"MaximumMessageSize\":\"262144\",\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"$max_receives\\\"}\"$fifo_attrs}")
  var=$(echo "$name" | tr '[:lower:]-' '[:upper:]_')
  put "CONVEYOR_${var}_QUEUE_URL" "$url"
  put "CONVEYOR_${var}_DLQ_URL" "$dlq_url"
  say "queue $name$suffix -> $name-dlq$suffix"
}

work_queue builds 3600 false
work_queue images 360 false
work_queue promotions 720 true
work_queue approvals 360 false

# ECR pushes -> images queue, with the target's own DLQ.
events_dlq=$(create_queue ecr-events-dlq '{"MessageRetentionPeriod":"1209600","MaximumMessageSize":"262144"}')
images_url=$(grep '^CONVEYOR_IMAGES_QUEUE_URL=' "$tmp" | cut -d= -f2-)
awslocal events put-rule --name conveyor-ecr-push --state ENABLED \
  --event-pattern '{"source":["aws.ecr"],"detail-type":["ECR Image Action"],"detail":{"action-type":["PUSH"],"result":["SUCCESS"]}}' >/dev/null
awslocal events put-targets --rule conveyor-ecr-push --targets \
  "Id=images-queue,Arn=$(queue_arn "$images_url"),DeadLetterConfig={Arn=$(queue_arn "$events_dlq")}" >/dev/null
put CONVEYOR_ECR_EVENTS_DLQ_URL "$events_dlq"
say "rule conveyor-ecr-push -> images"

# The state table: pk/sk, gsi1 on gsi1pk/gsi1sk, gsi2 on gsi2pk/gsi2sk, on
# demand, TTL on ttl.
awslocal dynamodb create-table --table-name "$table" --billing-mode PAY_PER_REQUEST \
  --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    AttributeName=gsi1pk,AttributeType=S AttributeName=gsi1sk,AttributeType=S \
    AttributeName=gsi2pk,AttributeType=S AttributeName=gsi2sk,AttributeType=S \
  --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
  --global-secondary-indexes 'IndexName=gsi1,KeySchema=[{AttributeName=gsi1pk,KeyType=HASH},{AttributeName=gsi1sk,KeyType=RANGE}],Projection={ProjectionType=ALL}' \
    'IndexName=gsi2,KeySchema=[{AttributeName=gsi2pk,KeyType=HASH},{AttributeName=gsi2sk,KeyType=RANGE}],Projection={ProjectionType=ALL}' \
  >/dev/null
awslocal dynamodb wait table-exists --table-name "$table"
awslocal dynamodb update-time-to-live --table-name "$table" \
  --time-to-live-specification Enabled=true,AttributeName=ttl >/dev/null
awslocal dynamodb update-continuous-backups --table-name "$table" \
  --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true >/dev/null ||
  say "point-in-time recovery not emulated; skipped"
say "table $table"

# Secrets, read by ARN as in AWS. The webhook secret is GitHub's documented
# test secret (the one README.md's curl examples use).
secret() { # NAME VALUE: prints the ARN
  awslocal secretsmanager create-secret --name "$1" --secret-string "$2" --query ARN --output text
}
put CONVEYOR_GITHUB_WEBHOOK_SECRET_ARN "$(secret conveyor/github-webhook-secret "It's a Secret to Everybody")"
put CONVEYOR_REGISTRY_WEBHOOK_TOKEN_ARN "$(secret conveyor/registry-webhook-token registry-token)"
if command -v openssl >/dev/null; then
  # A throwaway GitHub App key: enough for the functions to start; calls to
  # GitHub with it fail, as they should.
  put CONVEYOR_GITHUB_APP_KEY_ARN "$(secret conveyor/github-app-key "$(openssl genrsa 2048 2>/dev/null)")"
  put CONVEYOR_GITHUB_APP_ID 1
  put CONVEYOR_GITHUB_INSTALLATION_ID 1
else
  say "no openssl in the image: no GitHub App key secret"
fi
say "secrets"

mv "$tmp" "$env_file"
chmod 0644 "$env_file"
say "wrote $env_file"
