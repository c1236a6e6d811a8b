package redis

import "strings"

// keyless lists commands that name no key: their records have no Path.
const keyless = "ACL ASKING AUTH BGREWRITEAOF BGSAVE CLIENT CLUSTER COMMAND CONFIG DBSIZE DEBUG DISCARD ECHO EXEC " +
	"FAILOVER FLUSHALL FLUSHDB FUNCTION HELLO INFO KEYS LASTSAVE LATENCY LOLWUT MEMORY MODULE MONITOR MULTI PING " +
	"PSYNC QUIT RANDOMKEY READONLY READWRITE REPLCONF REPLICAOF RESET ROLE SAVE SCAN SCRIPT SELECT SHUTDOWN " +
	"SLAVEOF SLOWLOG SWAPDB SYNC TIME UNWATCH WAIT WAITAOF PUBSUB"

// keyed lists commands whose first argument is a key (or, for pub/sub, a
// channel or pattern, which is what a reader filters such records by).
const keyed = "APPEND BITCOUNT BITFIELD BITFIELD_RO BITPOS BLMOVE BLPOP BRPOP BRPOPLPUSH BZPOPMAX BZPOPMIN COPY DECR " +
	"DECRBY DEL DUMP EXISTS EXPIRE EXPIREAT EXPIRETIME GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER " +
	"GEORADIUS_RO GEORADIUSBYMEMBER_RO GEOSEARCH GEOSEARCHSTORE GET GETBIT GETDEL GETEX GETRANGE GETSET HDEL " +
	"HEXISTS HEXPIRE HGET HGETALL HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET HMSET HPERSIST HPEXPIRE HRANDFIELD HSCAN " +
	"HSET HSETNX HSTRLEN HTTL HVALS INCR INCRBY INCRBYFLOAT LCS LINDEX LINSERT LLEN LMOVE LPOP LPOS LPUSH LPUSHX " +
	"LRANGE LREM LSET LTRIM MGET MSET MSETNX MOVE PERSIST PEXPIRE PEXPIREAT PEXPIRETIME PFADD PFCOUNT PFMERGE " +
	"PSETEX PTTL RENAME RENAMENX RESTORE RPOP RPOPLPUSH RPUSH RPUSHX SADD SCARD SDIFF SDIFFSTORE SET SETBIT SETEX " +
	"SETNX SETRANGE SINTER SINTERSTORE SISMEMBER SMEMBERS SMISMEMBER SMOVE SORT SORT_RO SPOP SRANDMEMBER SREM " +
	"SSCAN STRLEN SUBSTR SUNION SUNIONSTORE TOUCH TTL TYPE UNLINK WATCH XACK XADD XAUTOCLAIM XCLAIM XDEL XLEN " +
	"XPENDING XRANGE XREVRANGE XSETID XTRIM ZADD ZCARD ZCOUNT ZDIFFSTORE ZINCRBY ZINTERSTORE ZLEXCOUNT ZMSCORE " +
	"ZPOPMAX ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZRANK ZREM ZREMRANGEBYLEX " +
	"ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE " +
	"ZUNIONSTORE OBJECT PUBLISH SPUBLISH SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE " +
	"GETDEL"

// special lists commands whose key is found by a rule of its own (see
// keyOf).
const special = "BITOP EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO LMPOP ZMPOP SINTERCARD ZINTER ZUNION ZDIFF " +
	"ZINTERCARD BLMPOP BZMPOP XREAD XREADGROUP MIGRATE XGROUP XINFO"

// containers are commands whose first argument names the operation.
const containers = "ACL CLIENT CLUSTER COMMAND CONFIG DEBUG FUNCTION LATENCY MEMORY MODULE OBJECT PUBSUB SCRIPT " +
	"SLOWLOG XGROUP XINFO"

// commandTable is built once per process from the lists above; it is never
// written afterwards.
type commandTable struct {
	kind      map[string]byte // 'n' keyless, 'k' key at arg 1, 's' special
	container map[string]bool
}

func buildTable() commandTable {
	t := commandTable{kind: map[string]byte{}, container: map[string]bool{}}
	for _, c := range strings.Fields(keyless) {
		t.kind[c] = 'n'
	}
	for _, c := range strings.Fields(keyed) {
		t.kind[c] = 'k'
	}
	for _, c := range strings.Fields(special) {
		t.kind[c] = 's'
	}
	for _, c := range strings.Fields(containers) {
		t.container[c] = true
	}
	return t
}

var commands = buildTable()

// known reports whether name (any case) is a Redis command.
func known(name []byte) bool {
	if len(name) == 0 || len(name) > 24 {
		return false
	}
	var buf [24]byte
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := commands.kind[string(buf[:len(name)])]
	return ok
}

// describe turns a command's elements into its Method, Path and the
// arguments after the name.
func describe(elems [][]byte) (method, path string, args [][]byte) {
	if len(elems) == 0 {
		return "", "", nil
	}
	name := strings.ToUpper(string(elems[0]))
	args = elems[1:]
	method = name
	if commands.container[name] && len(args) > 0 && isWord(args[0]) {
		method = name + " " + strings.ToUpper(string(args[0]))
	}
	if i := keyIndex(name, args); i >= 0 && i < len(args) && args[i] != nil {
		path = string(args[i])
	}
	return method, path, args
}

// keyIndex returns the position in args of the command's first key, or -1.
func keyIndex(name string, args [][]byte) int {
	switch commands.kind[name] {
	case 'k':
		if name == "OBJECT" {
			return 1
		}
		return 0
	case 's':
	default:
		return -1
	}
	switch name {
	case "BITOP":
		return 1
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		if len(args) > 1 && string(args[1]) != "0" {
			return 2
		}
	case "LMPOP", "ZMPOP", "SINTERCARD", "ZINTER", "ZUNION", "ZDIFF", "ZINTERCARD":
		return 1
	case "BLMPOP", "BZMPOP":
		return 2
	case "MIGRATE":
		if len(args) > 2 && len(args[2]) > 0 {
			return 2
		}
		for i, a := range args {
			if strings.EqualFold(string(a), "KEYS") {
				return i + 1
			}
		}
	case "XREAD", "XREADGROUP":
		for i, a := range args {
			if strings.EqualFold(string(a), "STREAMS") {
				return i + 1
			}
		}
	case "XGROUP", "XINFO":
		if len(args) > 1 && !strings.EqualFold(string(args[0]), "HELP") {
			return 1
		}
	}
	return -1
}

func isWord(b []byte) bool {
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
