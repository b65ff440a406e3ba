"""A small extraction set: 24 short texts written for typedgen, each with a typed target.

Every :class:`Case` has a text, an instruction (the typed function's docstring), a target
annotation (pydantic models, dataclasses, TypedDicts, Enums, Literals, lists, dates, nested
models) and the expected value written as JSON (``expected``). The benchmark
``bench_extraction.py`` compares outputs leaf by leaf against ``expected``; the demo and the docs
may reuse the cases.

The texts and expected values are original to this project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

__all__ = ["CASES", "Case"]


# --- target types -----------------------------------------------------------------------------


class Sentiment(StrEnum):
    positive = "positive"
    negative = "negative"
    neutral = "neutral"


class Genre(StrEnum):
    fantasy = "fantasy"
    science_fiction = "science fiction"
    mystery = "mystery"
    romance = "romance"
    history = "history"


class Invoice(BaseModel):
    invoice_number: str
    vendor: str
    issue_date: date
    total: float
    currency: Literal["EUR", "USD", "GBP"]


@dataclass
class Contact:
    name: str
    email: str
    phone: str


class Event(TypedDict):
    title: str
    date: date
    city: str


class ProductReview(BaseModel):
    product: str
    sentiment: Sentiment
    rating: Annotated[int, Field(ge=1, le=5)]


class SupportTicket(BaseModel):
    category: Literal["billing", "technical", "account", "other"]
    urgent: bool


class ShoppingItem(BaseModel):
    name: str
    quantity: int


class ShoppingList(BaseModel):
    items: list[ShoppingItem]


class Meeting(BaseModel):
    title: str
    date: date
    attendees: list[str]


class Address(BaseModel):
    street: str
    city: str
    country: str


class Person(BaseModel):
    name: str
    age: int
    address: Address


@dataclass
class Flight:
    airline: str
    flight_number: str
    departure_date: date
    origin: str
    destination: str


class Recipe(BaseModel):
    name: str
    servings: int
    ingredients: list[str]


class OrderLine(TypedDict):
    product: str
    quantity: int
    unit_price: float


class Order(TypedDict):
    order_id: str
    customer: str
    lines: list[OrderLine]


class Weather(BaseModel):
    city: str
    temperature_c: float
    condition: Literal["sunny", "cloudy", "rain", "snow"]


class JobPosting(BaseModel):
    title: str
    company: str
    remote: bool
    salary_min: int
    salary_max: int


class Book(BaseModel):
    title: str
    author: str
    year: int
    genres: list[Genre]


class Appointment(BaseModel):
    patient: str
    doctor: str
    date: date


class Transaction(BaseModel):
    date: date
    amount: float
    description: str


class Product(BaseModel):
    name: str
    price: float
    in_stock: bool
    colors: list[str]


class MovieReview(BaseModel):
    title: str
    sentiment: Sentiment
    score: Annotated[int, Field(ge=0, le=10)]


class Location(BaseModel):
    city: str
    country: str


class Company(BaseModel):
    name: str
    founded: int
    headquarters: Location
    ceo: str


class Email(BaseModel):
    priority: Literal["low", "medium", "high"]
    topic: str
    needs_reply: bool


class Rental(TypedDict):
    city: str
    rooms: int
    monthly_rent: int
    furnished: bool


@dataclass
class MatchResult:
    home_team: str
    away_team: str
    home_score: int
    away_score: int
    date: date


# --- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One extraction: ``instruction`` is the typed function's docstring, ``target`` its return
    annotation, ``expected`` the right answer as JSON (every leaf is scored)."""

    name: str
    instruction: str
    target: Any
    text: str
    expected: Any


CASES: list[Case] = [
    Case(
        "invoice",
        "Extract the invoice details from the text.",
        Invoice,
        "Invoice INV-2041 from Northwind Supplies, issued on 2024-03-15. "
        "Amount due: 1,250.40 EUR, payable within 30 days.",
        {
            "invoice_number": "INV-2041",
            "vendor": "Northwind Supplies",
            "issue_date": "2024-03-15",
            "total": 1250.4,
            "currency": "EUR",
        },
    ),
    Case(
        "contact",
        "Extract the contact details of the person who wrote this message.",
        Contact,
        "Hi, this is Maria Lopez. You can reach me at maria.lopez@example.com "
        "or call 555-0142 any weekday.",
        {"name": "Maria Lopez", "email": "maria.lopez@example.com", "phone": "555-0142"},
    ),
    Case(
        "event",
        "Extract the event from the announcement.",
        Event,
        "Join us for the Spring Jazz Night on 2025-04-12 in Lisbon! Doors open at 8 pm.",
        {"title": "Spring Jazz Night", "date": "2025-04-12", "city": "Lisbon"},
    ),
    Case(
        "review",
        "Extract the product, the sentiment and the star rating (1 to 5) from the review.",
        ProductReview,
        "I bought the AeroPress coffee maker last month. It makes great coffee and cleans in "
        "seconds. Five stars from me!",
        {"product": "AeroPress coffee maker", "sentiment": "positive", "rating": 5},
    ),
    Case(
        "ticket",
        "Classify the support ticket and say whether it is urgent.",
        SupportTicket,
        "URGENT: I was charged twice for my subscription this month. Please refund the extra "
        "payment today.",
        {"category": "billing", "urgent": True},
    ),
    Case(
        "shopping",
        "List the items and quantities in the shopping note.",
        ShoppingList,
        "Please pick up 3 apples, 2 loaves of bread and 1 bottle of milk.",
        {
            "items": [
                {"name": "apples", "quantity": 3},
                {"name": "bread", "quantity": 2},
                {"name": "milk", "quantity": 1},
            ]
        },
    ),
    Case(
        "meeting",
        "Extract the meeting title, date and attendees.",
        Meeting,
        "The budget review meeting is on 2024-11-05. Attendees: Alice, Bob and Chen.",
        {"title": "budget review", "date": "2024-11-05", "attendees": ["Alice", "Bob", "Chen"]},
    ),
    Case(
        "person",
        "Extract the person's name, age and address.",
        Person,
        "John Carter, 42, lives at 12 Baker Street, London, United Kingdom.",
        {
            "name": "John Carter",
            "age": 42,
            "address": {"street": "12 Baker Street", "city": "London", "country": "United Kingdom"},
        },
    ),
    Case(
        "flight",
        "Extract the flight booking details.",
        Flight,
        "Your booking is confirmed: Lufthansa flight LH 452 from Frankfurt to Boston, "
        "departing 2024-07-21.",
        {
            "airline": "Lufthansa",
            "flight_number": "LH 452",
            "departure_date": "2024-07-21",
            "origin": "Frankfurt",
            "destination": "Boston",
        },
    ),
    Case(
        "recipe",
        "Extract the recipe name, the number of servings and the ingredients.",
        Recipe,
        "Pancakes (serves 4): flour, milk, eggs, sugar.",
        {"name": "Pancakes", "servings": 4, "ingredients": ["flour", "milk", "eggs", "sugar"]},
    ),
    Case(
        "order",
        "Extract the order: its id, the customer and each line with quantity and unit price.",
        Order,
        "Order A-778 for Priya Shah: 2 notebooks at 3.50 each and 1 pen at 1.20.",
        {
            "order_id": "A-778",
            "customer": "Priya Shah",
            "lines": [
                {"product": "notebook", "quantity": 2, "unit_price": 3.5},
                {"product": "pen", "quantity": 1, "unit_price": 1.2},
            ],
        },
    ),
    Case(
        "weather",
        "Extract the city, the temperature in degrees Celsius and the condition.",
        Weather,
        "Oslo today: 4 degrees Celsius with steady rain all afternoon.",
        {"city": "Oslo", "temperature_c": 4.0, "condition": "rain"},
    ),
    Case(
        "job",
        "Extract the job posting details; salaries are yearly amounts in dollars.",
        JobPosting,
        "Acme Robotics is hiring a Backend Engineer. Fully remote. Salary: $90000 to $120000 "
        "per year.",
        {
            "title": "Backend Engineer",
            "company": "Acme Robotics",
            "remote": True,
            "salary_min": 90000,
            "salary_max": 120000,
        },
    ),
    Case(
        "book",
        "Extract the book's title, author, publication year and genres.",
        Book,
        "The Silent Harbor, a mystery novel by Elena Park, was published in 2019.",
        {"title": "The Silent Harbor", "author": "Elena Park", "year": 2019, "genres": ["mystery"]},
    ),
    Case(
        "sentiment",
        "What is the sentiment of the text?",
        Sentiment,
        "The delivery was late and the box arrived damaged. Very disappointing.",
        "negative",
    ),
    Case(
        "dates",
        "List every date mentioned in the text, in order.",
        list[date],
        "The contract starts on 2024-01-01 and ends on 2024-12-31.",
        ["2024-01-01", "2024-12-31"],
    ),
    Case(
        "appointment",
        "Extract the appointment: patient, doctor and date.",
        Appointment,
        "Reminder: Tom Baker has an appointment with Dr. Susan Lee on 2024-09-03.",
        {"patient": "Tom Baker", "doctor": "Dr. Susan Lee", "date": "2024-09-03"},
    ),
    Case(
        "transactions",
        "List the transactions; spending is a negative amount.",
        list[Transaction],
        "2024-05-02 coffee shop -4.50; 2024-05-03 salary +2500.00.",
        [
            {"date": "2024-05-02", "amount": -4.5, "description": "coffee shop"},
            {"date": "2024-05-03", "amount": 2500.0, "description": "salary"},
        ],
    ),
    Case(
        "product",
        "Extract the product name, price, availability and colours.",
        Product,
        "The TrailRunner backpack costs 79.99 and is in stock in black, green and orange.",
        {
            "name": "TrailRunner backpack",
            "price": 79.99,
            "in_stock": True,
            "colors": ["black", "green", "orange"],
        },
    ),
    Case(
        "movie",
        "Extract the movie title, the sentiment and the score out of 10.",
        MovieReview,
        "Midnight Express Line is a dull, overlong thriller. I give it 3 out of 10.",
        {"title": "Midnight Express Line", "sentiment": "negative", "score": 3},
    ),
    Case(
        "company",
        "Extract the company profile.",
        Company,
        "Brightwave Energy was founded in 2011 and is headquartered in Austin, United States. "
        "Its CEO is Laura Kim.",
        {
            "name": "Brightwave Energy",
            "founded": 2011,
            "headquarters": {"city": "Austin", "country": "United States"},
            "ceo": "Laura Kim",
        },
    ),
    Case(
        "email",
        "Triage the email: its priority, its topic in a few words, and whether it needs a reply.",
        Email,
        "Hello team, just a note that the office will be closed on Friday for maintenance. "
        "No action needed.",
        {"priority": "low", "topic": "office closed", "needs_reply": False},
    ),
    Case(
        "rental",
        "Extract the rental listing details.",
        Rental,
        "Furnished 2-room apartment in Berlin, 1200 euros per month.",
        {"city": "Berlin", "rooms": 2, "monthly_rent": 1200, "furnished": True},
    ),
    Case(
        "match",
        "Extract the match result.",
        MatchResult,
        "On 2024-02-10 Riverside FC beat Hilltop United 3-1 at home.",
        {
            "home_team": "Riverside FC",
            "away_team": "Hilltop United",
            "home_score": 3,
            "away_score": 1,
            "date": "2024-02-10",
        },
    ),
]
