"""The layers every request passes before a handler: metrics, abuse controls and headers
(`Guard`, with body deadlines and CORS), and the direct routes for the two busiest endpoints.
app.py stacks them outside Starlette's own."""
