-- POST /messages without an id: every request is a new message (the server makes its UUIDv7).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tipo":"email","destinatario":"ana@example.com","conteudo":"Olá, benchmark","metadados":{"campanha":"natal"}}'
