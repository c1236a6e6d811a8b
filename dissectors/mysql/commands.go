package mysql

import "strconv"

// Command bytes the dissector treats specially.
const (
	comQuit             = 0x01
	comInitDB           = 0x02
	comQuery            = 0x03
	comFieldList        = 0x04
	comStatistics       = 0x09
	comPing             = 0x0e
	comChangeUser       = 0x11
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
	comStmtReset        = 0x1a
	comSetOption        = 0x1b
	comStmtFetch        = 0x1c
	comResetConnection  = 0x1f
)

var commandNames = [...]string{
	0x00: "COM_SLEEP", 0x01: "COM_QUIT", 0x02: "COM_INIT_DB", 0x03: "COM_QUERY", 0x04: "COM_FIELD_LIST",
	0x05: "COM_CREATE_DB", 0x06: "COM_DROP_DB", 0x07: "COM_REFRESH", 0x08: "COM_SHUTDOWN",
	0x09: "COM_STATISTICS", 0x0a: "COM_PROCESS_INFO", 0x0b: "COM_CONNECT", 0x0c: "COM_PROCESS_KILL",
	0x0d: "COM_DEBUG", 0x0e: "COM_PING", 0x0f: "COM_TIME", 0x10: "COM_DELAYED_INSERT",
	0x11: "COM_CHANGE_USER", 0x12: "COM_BINLOG_DUMP", 0x13: "COM_TABLE_DUMP", 0x14: "COM_CONNECT_OUT",
	0x15: "COM_REGISTER_SLAVE", 0x16: "COM_STMT_PREPARE", 0x17: "COM_STMT_EXECUTE",
	0x18: "COM_STMT_SEND_LONG_DATA", 0x19: "COM_STMT_CLOSE", 0x1a: "COM_STMT_RESET",
	0x1b: "COM_SET_OPTION", 0x1c: "COM_STMT_FETCH", 0x1d: "COM_DAEMON", 0x1e: "COM_BINLOG_DUMP_GTID",
	0x1f: "COM_RESET_CONNECTION", 0x20: "COM_CLONE",
}

// commandName names a command byte, or returns "" for one that is not a
// command.
func commandName(b byte) string {
	if int(b) < len(commandNames) {
		return commandNames[b]
	}
	return ""
}

// methodName is commandName with a fallback that keeps the byte.
func methodName(b byte) string {
	if n := commandName(b); n != "" {
		return n
	}
	return "COM_UNKNOWN_" + strconv.Itoa(int(b))
}

// oneWay reports commands the server does not answer.
func oneWay(b byte) bool {
	return b == comQuit || b == comStmtClose || b == comStmtSendLongData
}
