"use strict";
// Renders openapi.json as a list of endpoints: method, path, summary, description, parameters and body.
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function schemaOf(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
  return schema || {};
}

function bodyFields(spec, body) {
  const list = el("ul");
  for (const [type, media] of Object.entries((body && body.content) || {})) {
    const schema = schemaOf(spec, media.schema);
    for (const [name, field] of Object.entries(schema.properties || {})) {
      const required = (schema.required || []).includes(name) ? " (required)" : "";
      list.append(el("li", type + " field " + name + required + ": " + (field.description || field.type || "")));
    }
  }
  return list;
}

async function render() {
  const spec = await (await fetch("openapi.json")).json();
  document.getElementById("version").textContent = spec.info.title + " " + spec.info.version;
  document.getElementById("description").textContent = spec.info.description || "";
  const root = document.getElementById("paths");
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const section = el("section", "", "endpoint");
      section.append(el("h3", method.toUpperCase() + " " + path));
      if (operation.summary) section.append(el("p", operation.summary, "hint"));
      if (operation.description) section.append(el("p", operation.description));
      for (const parameter of operation.parameters || []) {
        section.append(el("p", parameter.in + " parameter " + parameter.name + (parameter.required ? " (required)" : "")));
      }
      if (operation.requestBody) section.append(bodyFields(spec, operation.requestBody));
      root.append(section);
    }
  }
}

render().catch((error) => { document.getElementById("paths").textContent = "cannot read openapi.json: " + error; });
