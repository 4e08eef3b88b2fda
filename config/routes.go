package config

import (
	"fmt"
	"strings"
)

// checkRoutes reports pool routes that are malformed. Whether the router
// can serve them beside each other and the built-in endpoints is the
// handlers' to say (handlers.CheckRoutes, through server.Check).
func checkRoutes(c *collector, pools []Pool) {
	for i := range pools {
		for j, route := range pools[i].Routes {
			path := fmt.Sprintf("pools[%d].routes[%d]", i, j)
			if !strings.HasPrefix(route, "/") {
				c.add(path, "must start with /, got %q", route)
				continue
			}
			if strings.ContainsAny(route, " \t\r\n?#%\\") {
				c.add(path, "must not contain spaces, '?', '#', '%%' or '\\', got %q", route)
			}
		}
	}
}
