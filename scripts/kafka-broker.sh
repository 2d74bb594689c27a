#!/usr/bin/env bash
# Runs a throwaway single-node Apache Kafka broker (KRaft, broker and controller in one JVM)
# on free loopback ports, for the tests and for trying timely-kafka against the real thing.
#
#   scripts/kafka-broker.sh                      # start; prints the bootstrap servers first
#   scripts/kafka-broker.sh --partitions 8 --set group.initial.rebalance.delay.ms=0
#   scripts/kafka-broker.sh --fetch              # only download the broker into the cache
#
# The first line of stdout is the bootstrap servers of the first listener
# (`127.0.0.1:PORT`), as with `timely-kafka mock-cluster`; then one `NAME=127.0.0.1:PORT`
# line per listener, and, with a TLS or SASL listener, `clients=DIR`: a directory of
# librdkafka client property files, one per way in (see below). Everything else goes to
# stderr. The broker runs until this script gets SIGINT or SIGTERM, then it is stopped and
# its state directory (certificates and passwords included) removed.
#
# Options:
#   --version V        Apache Kafka version (default: $KAFKA_VERSION below)
#   --port P           the first listener's port (default: a free one; the others always are)
#   --partitions N     partitions of auto-created topics (num.partitions; default 1)
#   --listeners LIST   comma-separated, first one printed first (default: plaintext):
#                        plaintext       no TLS, no authentication
#                        ssl             TLS (server certificate from a CA made at start)
#                        mtls            TLS with a client certificate required
#                        sasl_ssl        TLS + SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
#                                        OAUTHBEARER (unsecured JWTs: for tests only)
#                        sasl_plaintext  SASL PLAIN and SCRAM without TLS
#                        oidc            TLS + SASL OAUTHBEARER with signed JWTs, checked
#                                        against a JWKS made at start (an OIDC provider's
#                                        tokens; the token endpoint is the client's to serve)
#                        wronghost       TLS with a certificate for another host name
#   --set KEY=VALUE    any broker setting (server.properties), repeatable; last one wins
#   --log FILE         keep the broker's log in FILE (default: inside the state directory)
#   --start-timeout S  seconds to wait for the broker to start (default 90)
#   --fetch            fetch the broker into the cache and exit
#
# Client property files (in `clients=DIR`; each has bootstrap.servers and everything else a
# client needs): ssl.properties, mtls.properties, wronghost.properties,
# sasl_ssl-{plain,scram-sha-256,scram-sha-512,oauthbearer}.properties,
# sasl_plaintext-{plain,scram-sha-512}.properties, oidc.properties (OIDC client credentials:
# add sasl.oauthbearer.token.endpoint.url), oidc-token.jwt (a JWT for `alice`, audience
# `timely-kafka-test`, valid two days, signed with the key behind the broker's JWKS: what a
# token endpoint under test hands out) and other-ca.pem (a CA that signed nothing the broker
# uses). The TLS material and the SASL password are made fresh at start
# and removed with the state directory: nothing secret is committed or reused.
#
# Environment:
#   TIMELY_KAFKA_CACHE  where broker jars are cached (default ~/.cache/timely-kafka)
#   KAFKA_BROKER_HEAP   JVM heap flags (default -Xms256m -Xmx1g)
#   JAVA_HOME           the JDK to use (Kafka 4 needs Java 17 or newer)
#
# The broker and its dependencies come from Maven Central (org.apache.kafka:kafka_2.13)
# through the machine's Maven, once per version: a cached version starts without Maven.
set -euo pipefail

KAFKA_VERSION=4.4.0
LOG4J_VERSION=2.24.3

version=$KAFKA_VERSION
port=
partitions=1
listeners=plaintext
settings=()
log_file=
start_timeout=90
fetch_only=false

die() {
  echo "kafka-broker: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --port) port=${2:?--port needs a value}; shift 2 ;;
    --partitions) partitions=${2:?--partitions needs a value}; shift 2 ;;
    --listeners) listeners=${2:?--listeners needs a value}; shift 2 ;;
    --set) settings+=("${2:?--set needs KEY=VALUE}"); shift 2 ;;
    --log) log_file=${2:?--log needs a file}; shift 2 ;;
    --start-timeout) start_timeout=${2:?--start-timeout needs seconds}; shift 2 ;;
    --fetch) fetch_only=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

[[ $partitions =~ ^[1-9][0-9]*$ ]] || die "--partitions must be a positive number, got '$partitions'"
[[ $start_timeout =~ ^[1-9][0-9]*$ ]] || die "--start-timeout must be whole seconds, got '$start_timeout'"
[ -z "$port" ] || [[ $port =~ ^[1-9][0-9]*$ ]] || die "--port must be a port number, got '$port'"
for setting in "${settings[@]}"; do
  [[ $setting == ?*=* ]] || die "--set takes KEY=VALUE, got '$setting'"
done
IFS=, read -r -a listener_names <<<"$listeners"
[ ${#listener_names[@]} -gt 0 ] || die "--listeners needs at least one listener"
needs_tls=false
needs_sasl=false
needs_oidc=false
for name in "${listener_names[@]}"; do
  case "$name" in
    plaintext) ;;
    ssl|mtls|wronghost) needs_tls=true ;;
    sasl_ssl) needs_tls=true; needs_sasl=true ;;
    sasl_plaintext) needs_sasl=true ;;
    oidc) needs_tls=true; needs_oidc=true ;;
    *) die "unknown listener '$name' (plaintext, ssl, mtls, sasl_ssl, sasl_plaintext, oidc, wronghost)" ;;
  esac
done
if $needs_tls; then
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to make the TLS listeners' certificates"
fi

# --- Java ---------------------------------------------------------------------------------
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
command -v "$java" >/dev/null 2>&1 || die "no Java: '$java' not found (Kafka $version needs Java 17+; set JAVA_HOME)"
java_major=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
[ -n "$java_major" ] || die "could not read the Java version from '$java -version'"
[ "$java_major" -ge 17 ] || die "Java $java_major found; Kafka $version needs Java 17 or newer (set JAVA_HOME)"

# --- Fetch (cached) -----------------------------------------------------------------------
cache=${TIMELY_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/timely-kafka}/kafka-$version
libs=$cache/libs
if [ ! -f "$libs/.complete" ]; then
  command -v mvn >/dev/null 2>&1 || die "no Maven: 'mvn' is needed once to fetch Kafka $version from Maven Central"
  echo "kafka-broker: fetching Apache Kafka $version from Maven Central into $cache" >&2
  rm -rf "$libs"
  mkdir -p "$cache"
  cat >"$cache/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.timely-kafka</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  if ! mvn_out=$(mvn -B -q -f "$cache/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime 2>&1); then
    printf '%s\n' "$mvn_out" | tail -n 20 >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$version (output above)"
  fi
  ls "$libs"/kafka_2.13-"$version".jar >/dev/null 2>&1 \
    || die "Maven finished but $libs holds no kafka_2.13-$version.jar"
  touch "$libs/.complete"
fi
if $fetch_only; then
  echo "kafka-broker: Apache Kafka $version is in $libs" >&2
  exit 0
fi
classpath="$libs/*"

# --- Ports --------------------------------------------------------------------------------
# A port is free when nothing accepts a connection on it and it can be bound.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
command -v python3 >/dev/null 2>&1 || die "python3 is needed to pick free ports"
if [ -n "$port" ]; then
  ! in_use "$port" || die "port $port is in use"
fi
# One port per listener, then the controller's; all distinct.
ports=()
taken=" $port "
for i in $(seq 0 ${#listener_names[@]}); do
  if [ "$i" -eq 0 ] && [ -n "$port" ]; then
    ports+=("$port")
    continue
  fi
  candidate=$(free_port)
  while [[ $taken == *" $candidate "* ]]; do candidate=$(free_port); done
  taken+="$candidate "
  ports+=("$candidate")
done
controller_port=${ports[${#listener_names[@]}]}

# --- State --------------------------------------------------------------------------------
state=$(mktemp -d "${TMPDIR:-/tmp}/kafka-broker.XXXXXX")
broker_pid=
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    # A controlled shutdown takes a few seconds; past 30 s the broker is killed.
    for _ in $(seq 1 300); do
      kill -0 "$broker_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log_file=${log_file:-$state/broker.log}
clients=$state/clients
mkdir -p "$clients"

# --- TLS material and SASL credentials, made fresh ------------------------------------------
tls=$state/tls
secret() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
# Signs a certificate for `$2` (a subjectAltName list) with the test CA, into $tls/$1.{pem,key}.
sign() {
  openssl req -newkey rsa:2048 -nodes -keyout "$tls/$1.key" -out "$tls/$1.csr" \
    -subj "/CN=$1" 2>/dev/null
  openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -out "$tls/$1.pem" -days 2 \
    -extfile <(printf 'subjectAltName=%s\n' "$2") 2>/dev/null
}
if $needs_tls; then
  mkdir -p "$tls"
  (
    set -e
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" \
      -days 2 -subj "/CN=timely-kafka test CA" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/other-ca.key" \
      -out "$clients/other-ca.pem" -days 2 -subj "/CN=another CA" 2>/dev/null
    sign broker "DNS:localhost,IP:127.0.0.1"
    sign elsewhere "DNS:elsewhere.invalid"
    sign client "DNS:client"
  ) || die "openssl could not make the test certificates"
  keystore_password=$(secret)
  for cert in broker elsewhere; do
    openssl pkcs12 -export -in "$tls/$cert.pem" -inkey "$tls/$cert.key" \
      -out "$tls/$cert.p12" -passout "pass:$keystore_password" \
      || die "openssl could not make the $cert keystore"
  done
fi
sasl_user=alice
sasl_password=$(secret)

listener_settings=()

# --- An OIDC provider's signing key, its JWKS, and a token it issued -----------------------
oidc=$state/oidc
oidc_audience=timely-kafka-test
jvm_oidc=()
if $needs_oidc; then
  command -v perl >/dev/null 2>&1 || die "perl is needed to write the OIDC listener's JWKS"
  mkdir -p "$oidc"
  b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$oidc/signing.key" 2>/dev/null \
    || die "openssl could not make the OIDC signing key"
  modulus=$(openssl rsa -in "$oidc/signing.key" -noout -modulus | cut -d= -f2 \
    | perl -ne 'chomp; print pack("H*", $_)' | b64url)
  printf '{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"timely-kafka-test","n":"%s","e":"AQAB"}]}\n' \
    "$modulus" >"$oidc/jwks.json"
  now=$(date +%s)
  header=$(printf '{"alg":"RS256","typ":"JWT","kid":"timely-kafka-test"}' | b64url)
  claims=$(printf '{"sub":"%s","aud":"%s","iss":"timely-kafka-test-idp","scope":"kafka","iat":%d,"exp":%d}' \
    "$sasl_user" "$oidc_audience" "$now" $((now + 172800)) | b64url)
  signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$oidc/signing.key" | b64url)
  printf '%s.%s.%s\n' "$header" "$claims" "$signature" >"$clients/oidc-token.jwt"
  oidc_client_secret=$(secret)
  # Kafka 4 reads only the JWKS URLs a system property allows.
  jvm_oidc=("-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=file://$oidc/jwks.json")
  listener_settings+=(
    "sasl.oauthbearer.jwks.endpoint.url=file://$oidc/jwks.json"
    "sasl.oauthbearer.expected.audience=$oidc_audience"
    "sasl.oauthbearer.expected.issuer=timely-kafka-test-idp"
  )
fi

# --- Broker settings ----------------------------------------------------------------------
listener_list=()
advertised_list=()
protocol_map=(CONTROLLER:PLAINTEXT)
for i in "${!listener_names[@]}"; do
  name=${listener_names[$i]}
  upper=${name^^}
  address=127.0.0.1:${ports[$i]}
  listener_list+=("$upper://$address")
  advertised_list+=("$upper://$address")
  case "$name" in
    plaintext) protocol=PLAINTEXT ;;
    ssl|mtls|wronghost) protocol=SSL ;;
    sasl_ssl) protocol=SASL_SSL ;;
    sasl_plaintext) protocol=SASL_PLAINTEXT ;;
    oidc) protocol=SASL_SSL ;;
  esac
  protocol_map+=("$upper:$protocol")
  prefix=listener.name.$name
  if [[ $protocol == *SSL ]]; then
    keystore=$tls/broker.p12
    [ "$name" = wronghost ] && keystore=$tls/elsewhere.p12
    listener_settings+=(
      "$prefix.ssl.keystore.type=PKCS12"
      "$prefix.ssl.keystore.location=$keystore"
      "$prefix.ssl.keystore.password=$keystore_password"
      "$prefix.ssl.truststore.type=PEM"
      "$prefix.ssl.truststore.location=$tls/ca.pem"
    )
  fi
  [ "$name" = mtls ] && listener_settings+=("$prefix.ssl.client.auth=required")
  if [ "$name" = oidc ]; then
    listener_settings+=(
      "$prefix.sasl.enabled.mechanisms=OAUTHBEARER"
      "$prefix.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
      "$prefix.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
    )
  elif [[ $protocol == SASL_* ]]; then
    mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
    [ "$name" = sasl_ssl ] && mechanisms+=",OAUTHBEARER"
    listener_settings+=(
      "$prefix.sasl.enabled.mechanisms=$mechanisms"
      "$prefix.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user=\"$sasl_password\";"
      "$prefix.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      "$prefix.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      "$prefix.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=\"$sasl_user\";"
    )
  fi
  # The client property file for this way in.
  client() {
    local file=$clients/$1.properties
    shift
    {
      echo "bootstrap.servers=$address"
      printf '%s\n' "$@"
    } >"$file"
  }
  case "$name" in
    ssl) client ssl security.protocol=ssl "ssl.ca.location=$tls/ca.pem" ;;
    wronghost) client wronghost security.protocol=ssl "ssl.ca.location=$tls/ca.pem" ;;
    mtls) client mtls security.protocol=ssl "ssl.ca.location=$tls/ca.pem" \
      "ssl.certificate.location=$tls/client.pem" "ssl.key.location=$tls/client.key" ;;
    oidc) client oidc security.protocol=sasl_ssl "ssl.ca.location=$tls/ca.pem" \
      sasl.mechanism=OAUTHBEARER sasl.oauthbearer.method=oidc \
      sasl.oauthbearer.client.id=timely-kafka-test "sasl.oauthbearer.client.secret=$oidc_client_secret" \
      sasl.oauthbearer.scope=kafka ;;
    sasl_ssl|sasl_plaintext)
      tls_settings=()
      [ "$name" = sasl_ssl ] && tls_settings=("ssl.ca.location=$tls/ca.pem")
      for mechanism in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
        client "$name-${mechanism,,}" "security.protocol=$name" "${tls_settings[@]}" \
          "sasl.mechanisms=$mechanism" "sasl.username=$sasl_user" "sasl.password=$sasl_password"
      done
      if [ "$name" = sasl_ssl ]; then
        client sasl_ssl-oauthbearer security.protocol=sasl_ssl "${tls_settings[@]}" \
          sasl.mechanisms=OAUTHBEARER enable.sasl.oauthbearer.unsecure.jwt=true \
          "sasl.oauthbearer.config=principal=$sasl_user"
      fi
      ;;
  esac
done
join() { local IFS=,; echo "$*"; }
listeners_setting=$(join "${listener_list[@]}" "CONTROLLER://127.0.0.1:$controller_port")
advertised_setting=$(join "${advertised_list[@]}")
protocol_map_setting=$(join "${protocol_map[@]}")
cat >"$state/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
controller.listener.names=CONTROLLER
listeners=$listeners_setting
advertised.listeners=$advertised_setting
inter.broker.listener.name=${listener_names[0]^^}
listener.security.protocol.map=$protocol_map_setting
log.dirs=$state/data
num.partitions=$partitions
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
for setting in "${listener_settings[@]}" "${settings[@]}"; do
  printf '%s\n' "$setting" >>"$state/server.properties"
done
cat >"$state/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $log_file
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
EOF

# --- Format and start ---------------------------------------------------------------------
jvm=(-cp "$classpath" "-Dlog4j2.configurationFile=$state/log4j2.properties")
cluster_id=$("$java" "${jvm[@]}" kafka.tools.StorageTool random-uuid 2>"$state/format.err") \
  || { cat "$state/format.err" >&2; die "could not create a cluster id"; }
scram=()
if $needs_sasl; then
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    scram+=(--add-scram "$mechanism=[name=$sasl_user,password=$sasl_password]")
  done
fi
"$java" "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
  -c "$state/server.properties" "${scram[@]}" >"$state/format.out" 2>&1 \
  || { cat "$state/format.out" >&2; die "could not format the storage directory"; }

read -r -a heap <<<"${KAFKA_BROKER_HEAP:--Xms256m -Xmx1g}"
"$java" "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true "${jvm[@]}" ${jvm_oidc[@]+"${jvm_oidc[@]}"} \
  kafka.Kafka "$state/server.properties" >"$state/broker.out" 2>&1 &
broker_pid=$!

broker_failed() {
  echo "--- broker output ($state/broker.out)" >&2
  tail -n 20 "$state/broker.out" >&2 || true
  echo "--- broker log ($log_file)" >&2
  grep -E ' (ERROR|FATAL) ' "$log_file" 2>/dev/null | tail -n 20 >&2 || true
  die "$*"
}

started=false
deadline=$((SECONDS + start_timeout))
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$broker_pid" 2>/dev/null || broker_failed "the broker exited while starting"
  if grep -q 'Kafka Server started' "$log_file" 2>/dev/null; then
    started=true
    break
  fi
  sleep 0.2
done
$started || broker_failed "the broker did not start within ${start_timeout}s"

# A reader may take the first line and close the pipe: that must not stop the broker, so a
# line that cannot be written is dropped rather than fatal (SIGPIPE is ignored).
trap '' PIPE
say() { printf '%s\n' "$1" 2>/dev/null || true; }
say "127.0.0.1:${ports[0]}"
for i in "${!listener_names[@]}"; do
  say "${listener_names[$i]}=127.0.0.1:${ports[$i]}"
done
if $needs_tls || $needs_sasl || $needs_oidc; then
  say "clients=$clients"
fi
echo "kafka-broker: Apache Kafka $version on 127.0.0.1:${ports[0]} (state: $state, log: $log_file); stop with Ctrl-C" >&2

# Until a signal, or until the broker exits by itself (which is a failure).
wait "$broker_pid" || true
broker_pid=
broker_failed "the broker exited unexpectedly"
