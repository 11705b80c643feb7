module github.com/inmem-db/inmem

go 1.24

require (
	github.com/klauspost/crc32 v1.3.0
	github.com/stretchr/testify v1.12.1
	github.com/viterin/vek v0.4.3
	github.com/zeebo/xxh3 v1.1.0
)

require (
	github.com/chewxy/math32 v1.10.1 // indirect
	github.com/klauspost/cpuid/v2 v2.2.10 // indirect
	github.com/viterin/partial v1.1.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/exp v0.0.0-20230817173708-d852ddb80c63 // indirect
	golang.org/x/sys v0.34.0 // indirect
)
