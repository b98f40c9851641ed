module {{name}}

go 1.24

require sluice.dev/plugin v0.0.0

replace sluice.dev/plugin => ./sluice/sdk-go
