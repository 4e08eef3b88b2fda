// Command gin-baseline is the yardstick of scripts/loadtest.sh: a bare gin
// handler (gin.New, no middleware) answering every GET with a 302, the
// least any gin-based redirector can cost.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "listen address")
	target := flag.String("target", "http://mirror.example", "redirect target prefix")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/*path", func(c *gin.Context) {
		c.Redirect(http.StatusFound, *target+c.Request.URL.Path)
	})
	log.Fatal(http.ListenAndServe(*listen, r))
}
