package temporaldev

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
)

// servicePorts returns seven ports: the frontend's membership port and the
// gRPC + membership ports of history, matching and worker. With a PortsFile
// the same ports are reused on every start while they are free.
func servicePorts(o Options) ([]int, error) {
	if o.PortsFile != "" {
		if b, err := os.ReadFile(o.PortsFile); err == nil {
			var saved []int
			if json.Unmarshal(b, &saved) == nil && len(saved) == 7 && allFree(o.Host, saved) {
				return saved, nil
			}
		}
	}
	ports := make([]int, 0, 7)
	for len(ports) < 7 {
		p, err := freePort(o.Host)
		if err != nil {
			return nil, err
		}
		if p == o.FrontendPort || p == o.MetricsPort || contains(ports, p) {
			continue
		}
		ports = append(ports, p)
	}
	if o.PortsFile != "" {
		b, _ := json.Marshal(ports)
		if err := os.WriteFile(o.PortsFile, b, 0o600); err != nil {
			return nil, fmt.Errorf("save service ports: %w", err)
		}
	}
	return ports, nil
}

func allFree(host string, ports []int) bool {
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
