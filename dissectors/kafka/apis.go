package kafka

// api describes one Kafka API key: its name, the highest version we accept
// and the first version that uses the flexible encoding (-1: none).
type api struct {
	name     string
	max      int16
	flexible int16
}

// apis is indexed by API key. Versions beyond a key's known maximum are
// rejected by the probe but parsed leniently once a connection is Kafka.
var apis = [...]api{
	{"Produce", 11, 9},
	{"Fetch", 17, 12},
	{"ListOffsets", 9, 6},
	{"Metadata", 13, 9},
	{"LeaderAndIsr", 7, 4},
	{"StopReplica", 4, 2},
	{"UpdateMetadata", 8, 6},
	{"ControlledShutdown", 3, 3},
	{"OffsetCommit", 9, 8},
	{"OffsetFetch", 9, 6},
	{"FindCoordinator", 6, 3},
	{"JoinGroup", 9, 6},
	{"Heartbeat", 4, 4},
	{"LeaveGroup", 5, 4},
	{"SyncGroup", 5, 4},
	{"DescribeGroups", 5, 5},
	{"ListGroups", 5, 3},
	{"SaslHandshake", 1, -1},
	{"ApiVersions", 4, 3},
	{"CreateTopics", 7, 5},
	{"DeleteTopics", 6, 4},
	{"DeleteRecords", 2, 2},
	{"InitProducerId", 5, 2},
	{"OffsetForLeaderEpoch", 4, 4},
	{"AddPartitionsToTxn", 5, 3},
	{"AddOffsetsToTxn", 4, 3},
	{"EndTxn", 4, 3},
	{"WriteTxnMarkers", 1, 1},
	{"TxnOffsetCommit", 4, 3},
	{"DescribeAcls", 3, 2},
	{"CreateAcls", 3, 2},
	{"DeleteAcls", 3, 2},
	{"DescribeConfigs", 4, 4},
	{"AlterConfigs", 2, 2},
	{"AlterReplicaLogDirs", 2, 2},
	{"DescribeLogDirs", 4, 2},
	{"SaslAuthenticate", 2, 2},
	{"CreatePartitions", 3, 2},
	{"CreateDelegationToken", 3, 2},
	{"RenewDelegationToken", 2, 2},
	{"ExpireDelegationToken", 2, 2},
	{"DescribeDelegationToken", 3, 2},
	{"DeleteGroups", 2, 2},
	{"ElectLeaders", 2, 2},
	{"IncrementalAlterConfigs", 1, 1},
	{"AlterPartitionReassignments", 0, 0},
	{"ListPartitionReassignments", 0, 0},
	{"OffsetDelete", 0, -1},
	{"DescribeClientQuotas", 1, 1},
	{"AlterClientQuotas", 1, 1},
	{"DescribeUserScramCredentials", 0, 0},
	{"AlterUserScramCredentials", 0, 0},
	{"Vote", 1, 0},
	{"BeginQuorumEpoch", 1, 1},
	{"EndQuorumEpoch", 1, 1},
	{"DescribeQuorum", 2, 0},
	{"AlterPartition", 3, 0},
	{"UpdateFeatures", 1, 0},
	{"Envelope", 0, 0},
	{"FetchSnapshot", 1, 0},
	{"DescribeCluster", 1, 0},
	{"DescribeProducers", 0, 0},
	{"BrokerRegistration", 4, 0},
	{"BrokerHeartbeat", 1, 0},
	{"UnregisterBroker", 0, 0},
	{"DescribeTransactions", 0, 0},
	{"ListTransactions", 1, 0},
	{"AllocateProducerIds", 0, 0},
	{"ConsumerGroupHeartbeat", 0, 0},
	{"ConsumerGroupDescribe", 0, 0},
	{"ControllerRegistration", 0, 0},
	{"GetTelemetrySubscriptions", 0, 0},
	{"PushTelemetry", 0, 0},
	{"AssignReplicasToDirs", 0, 0},
	{"ListClientMetricsResources", 0, 0},
	{"DescribeTopicPartitions", 0, 0},
}

// API keys the dissector parses beyond the header.
const (
	keyProduce         = 0
	keyFetch           = 1
	keyListOffsets     = 2
	keyMetadata        = 3
	keyOffsetCommit    = 8
	keyOffsetFetch     = 9
	keyFindCoordinator = 10
	keyJoinGroup       = 11
	keyHeartbeat       = 12
	keyLeaveGroup      = 13
	keySyncGroup       = 14
	keyDescribeGroups  = 15
	keyListGroups      = 16
	keySaslHandshake   = 17
	keyApiVersions     = 18
	keyCreateTopics    = 19
	keyDeleteTopics    = 20
	keyInitProducerId  = 22
	keyAddOffsetsToTxn = 25
	keyEndTxn          = 26
	keySaslAuth        = 36
)

func lookupAPI(key int16) (api, bool) {
	if key < 0 || int(key) >= len(apis) {
		return api{}, false
	}
	return apis[key], true
}

// apiName is the API's name, or its number for keys newer than the table.
func apiName(key int16) string {
	if a, ok := lookupAPI(key); ok {
		return a.name
	}
	return "ApiKey" + itoa(int(key))
}

// flexibleRequest reports whether the request uses header v2 and compact
// encodings.
func flexibleRequest(key, version int16) bool {
	a, ok := lookupAPI(key)
	return ok && a.flexible >= 0 && version >= a.flexible
}

// flexibleResponseHeader reports whether the response header is v1 (tagged
// fields after the correlation id). ApiVersions answers with header v0 at
// every version so that a client can read the answer before it knows what
// the broker speaks.
func flexibleResponseHeader(key, version int16) bool {
	return key != keyApiVersions && flexibleRequest(key, version)
}

// errorNames maps Kafka error codes from -1 upwards to their names.
var errorNames = [...]string{
	"UNKNOWN_SERVER_ERROR", "NONE", "OFFSET_OUT_OF_RANGE", "CORRUPT_MESSAGE",
	"UNKNOWN_TOPIC_OR_PARTITION", "INVALID_FETCH_SIZE", "LEADER_NOT_AVAILABLE",
	"NOT_LEADER_OR_FOLLOWER", "REQUEST_TIMED_OUT", "BROKER_NOT_AVAILABLE",
	"REPLICA_NOT_AVAILABLE", "MESSAGE_TOO_LARGE", "STALE_CONTROLLER_EPOCH",
	"OFFSET_METADATA_TOO_LARGE", "NETWORK_EXCEPTION", "COORDINATOR_LOAD_IN_PROGRESS",
	"COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR", "INVALID_TOPIC_EXCEPTION",
	"RECORD_LIST_TOO_LARGE", "NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
	"INVALID_REQUIRED_ACKS", "ILLEGAL_GENERATION", "INCONSISTENT_GROUP_PROTOCOL",
	"INVALID_GROUP_ID", "UNKNOWN_MEMBER_ID", "INVALID_SESSION_TIMEOUT",
	"REBALANCE_IN_PROGRESS", "INVALID_COMMIT_OFFSET_SIZE", "TOPIC_AUTHORIZATION_FAILED",
	"GROUP_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "INVALID_TIMESTAMP",
	"UNSUPPORTED_SASL_MECHANISM", "ILLEGAL_SASL_STATE", "UNSUPPORTED_VERSION",
	"TOPIC_ALREADY_EXISTS", "INVALID_PARTITIONS", "INVALID_REPLICATION_FACTOR",
	"INVALID_REPLICA_ASSIGNMENT", "INVALID_CONFIG", "NOT_CONTROLLER", "INVALID_REQUEST",
	"UNSUPPORTED_FOR_MESSAGE_FORMAT", "POLICY_VIOLATION", "OUT_OF_ORDER_SEQUENCE_NUMBER",
	"DUPLICATE_SEQUENCE_NUMBER", "INVALID_PRODUCER_EPOCH", "INVALID_TXN_STATE",
	"INVALID_PRODUCER_ID_MAPPING", "INVALID_TRANSACTION_TIMEOUT", "CONCURRENT_TRANSACTIONS",
	"TRANSACTION_COORDINATOR_FENCED", "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
	"SECURITY_DISABLED", "OPERATION_NOT_ATTEMPTED", "KAFKA_STORAGE_ERROR",
	"LOG_DIR_NOT_FOUND", "SASL_AUTHENTICATION_FAILED", "UNKNOWN_PRODUCER_ID",
	"REASSIGNMENT_IN_PROGRESS", "DELEGATION_TOKEN_AUTH_DISABLED", "DELEGATION_TOKEN_NOT_FOUND",
	"DELEGATION_TOKEN_OWNER_MISMATCH", "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
	"DELEGATION_TOKEN_AUTHORIZATION_FAILED", "DELEGATION_TOKEN_EXPIRED",
	"INVALID_PRINCIPAL_TYPE", "NON_EMPTY_GROUP", "GROUP_ID_NOT_FOUND",
	"FETCH_SESSION_ID_NOT_FOUND", "INVALID_FETCH_SESSION_EPOCH", "LISTENER_NOT_FOUND",
	"TOPIC_DELETION_DISABLED", "FENCED_LEADER_EPOCH", "UNKNOWN_LEADER_EPOCH",
	"UNSUPPORTED_COMPRESSION_TYPE", "STALE_BROKER_EPOCH", "OFFSET_NOT_AVAILABLE",
	"MEMBER_ID_REQUIRED", "PREFERRED_LEADER_NOT_AVAILABLE", "GROUP_MAX_SIZE_REACHED",
	"FENCED_INSTANCE_ID", "ELIGIBLE_LEADERS_NOT_AVAILABLE", "ELECTION_NOT_NEEDED",
	"NO_REASSIGNMENT_IN_PROGRESS", "GROUP_SUBSCRIBED_TO_TOPIC", "INVALID_RECORD",
	"UNSTABLE_OFFSET_COMMIT", "THROTTLING_QUOTA_EXCEEDED", "PRODUCER_FENCED",
	"RESOURCE_NOT_FOUND", "DUPLICATE_RESOURCE", "UNACCEPTABLE_CREDENTIAL",
	"INCONSISTENT_VOTER_SET", "INVALID_UPDATE_VERSION", "FEATURE_UPDATE_FAILED",
	"PRINCIPAL_DESERIALIZATION_FAILURE", "SNAPSHOT_NOT_FOUND", "POSITION_OUT_OF_RANGE",
	"UNKNOWN_TOPIC_ID", "DUPLICATE_BROKER_REGISTRATION", "BROKER_ID_NOT_REGISTERED",
	"INCONSISTENT_TOPIC_ID", "INCONSISTENT_CLUSTER_ID", "TRANSACTIONAL_ID_NOT_FOUND",
	"FETCH_SESSION_TOPIC_ID_ERROR", "INELIGIBLE_REPLICA", "NEW_LEADER_ELECTED",
	"OFFSET_MOVED_TO_TIERED_STORAGE", "FENCED_MEMBER_EPOCH", "UNRELEASED_INSTANCE_ID",
	"UNSUPPORTED_ASSIGNOR", "STALE_MEMBER_EPOCH", "MISMATCHED_ENDPOINT_TYPE",
	"UNSUPPORTED_ENDPOINT_TYPE", "UNKNOWN_CONTROLLER_ID", "UNKNOWN_SUBSCRIPTION_ID",
	"TELEMETRY_TOO_LARGE", "INVALID_REGISTRATION",
}

// errorName names an error code; unknown codes read as "ERROR_<n>".
func errorName(code int16) string {
	if i := int(code) + 1; i >= 0 && i < len(errorNames) {
		return errorNames[i]
	}
	return "ERROR_" + itoa(int(code))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
