"""The GraphQL schema: strawberry types and the `@phi` directive that guards PHI fields."""
