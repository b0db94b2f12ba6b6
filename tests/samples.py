"""Sample repository content shared by tests."""

SAMPLE_FILES = {
    "README.md": "# Payments service\n\nHandles invoices.\n\n## Install\n\nRun `pip install payments`.\n",
    "payments/__init__.py": '"""Payments package."""\n',
    "payments/invoices.py": (
        '"""Invoice helpers."""\n'
        "import decimal\n"
        "\n"
        "\n"
        "def compute_invoice_total(lines):\n"
        '    """Sum the price of every invoice line, tax included."""\n'
        "    return sum(decimal.Decimal(l.price) * (1 + l.tax_rate) for l in lines)\n"
        "\n"
        "\n"
        "class InvoiceRepository:\n"
        '    """Stores invoices."""\n'
        "\n"
        "    def __init__(self, db):\n"
        "        self.db = db\n"
        "\n"
        "    def save_invoice(self, invoice):\n"
        "        self.db.insert('invoices', invoice)\n"
        "\n"
        "    def find_overdue_invoices(self, today):\n"
        "        return [i for i in self.db.all('invoices') if i.due < today]\n"
    ),
    "web/server.js": (
        "const express = require('express');\n"
        "const app = express();\n"
        "\n"
        "function renderDashboard(req, res) {\n"
        "  res.send('dashboard');\n"
        "}\n"
        "\n"
        "app.get('/dashboard', renderDashboard);\n"
    ),
    "cmd/main.go": (
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n\n"
        "func parseRetryPolicy(s string) int {\n\treturn len(s)\n}\n"
    ),
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "node_modules/left-pad/index.js": "module.exports = function leftPad() {}\n",
}
