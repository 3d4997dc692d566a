package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// is 100 on every Linux ABI Go supports.
const clockTick = 10 * time.Millisecond

// memory is a process's resident memory from /proc/PID/status.
type memory struct {
	RSS     int64 `json:"rssBytes"`     // VmRSS
	RSSAnon int64 `json:"rssAnonBytes"` // RssAnon: heap, stacks, buffers
}

// readMemory reads the resident set size of pid.
func readMemory(pid int) (memory, error) {
	v, err := procFields(fmt.Sprintf("/proc/%d/status", pid), "VmRSS", "RssAnon")
	if err != nil {
		return memory{}, err
	}
	return memory{RSS: v[0] << 10, RSSAnon: v[1] << 10}, nil // kB
}

// procFields reads the integer values of keys from a /proc file of
// "key: value" lines (a trailing " kB" is dropped), in the order of keys;
// a key the file lacks is an error.
func procFields(path string, keys ...string) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := make([]int64, len(keys))
	seen := 0
	for line := range strings.Lines(string(b)) {
		key, val, ok := strings.Cut(line, ":")
		i := slices.Index(keys, key)
		if !ok || i < 0 {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", path, key, err)
		}
		v[i] = n
		seen++
	}
	if seen != len(keys) {
		return nil, fmt.Errorf("%s lacks one of %v", path, keys)
	}
	return v, nil
}

// cpuTimes is the CPU a process has used so far, two ways: utime+stime from
// /proc/PID/stat (the brief's measure, in 10 ms ticks) and the sum of its
// threads' on-CPU nanoseconds from /proc/PID/task/*/schedstat, which is
// precise but misses threads that have exited (Go rarely ends threads).
type cpuTimes struct {
	Stat      time.Duration
	SchedStat time.Duration
}

// sub returns c - o for each measure.
func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{Stat: c.Stat - o.Stat, SchedStat: c.SchedStat - o.SchedStat}
}

// readCPU reads the CPU time pid has used.
func readCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: bad utime or stime", pid)
	}
	c := cpuTimes{Stat: time.Duration(utime+stime) * clockTick}

	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		sb, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended between Glob and ReadFile
		}
		first, _, _ := strings.Cut(string(sb), " ")
		if ns, err := strconv.ParseInt(first, 10, 64); err == nil {
			c.SchedStat += time.Duration(ns)
		}
	}
	return c, nil
}

// ioCalls counts a process's read-like and write-like system calls so far
// (syscr and syscw of /proc/PID/io): read, pread64, readv and the like, and
// write, pwrite64, writev and the like, on files, pipes and sockets alike,
// failed ones (EAGAIN) included. Socket calls such as recvfrom and sendmsg,
// and futex, epoll and sleeps are not counted.
type ioCalls struct {
	Reads, Writes int64
}

// sub returns c - o.
func (c ioCalls) sub(o ioCalls) ioCalls {
	return ioCalls{Reads: c.Reads - o.Reads, Writes: c.Writes - o.Writes}
}

// readIOCalls reads the I/O system calls pid has made.
func readIOCalls(pid int) (ioCalls, error) {
	v, err := procFields(fmt.Sprintf("/proc/%d/io", pid), "syscr", "syscw")
	if err != nil {
		return ioCalls{}, err
	}
	return ioCalls{Reads: v[0], Writes: v[1]}, nil
}

// alive reports whether pid exists.
func alive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// loadAverage reads the one-minute load average of the machine, 0 if
// /proc/loadavg cannot be read.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), " ")
	f, _ := strconv.ParseFloat(first, 64)
	return f
}
