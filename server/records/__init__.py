"""CRM records: contacts, companies, deals, tickets, custom objects, associations, views."""
